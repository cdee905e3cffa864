"""The default quality-prediction models shipped with qpbench.

``quality.QualityPredictionModel`` is the deployment plan's ResNet-50 model;
``compact.CompactQualityModel`` is the small CNN used for quick runs and the
project's own tests. Weights live in ``weights/`` (see ``weights/PROVENANCE.md``).
"""

N_PARAMS = 13  # length of the vtracer parameter vector (qpbench.runtime.params)
