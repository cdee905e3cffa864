"""The runtime layer: what serves a model, at the bottom of qpbench.

``backends`` (TorchScript, AOTInductor, ONNX Runtime, OpenVINO), ``preprocess``
(the training preprocessing in numpy), ``params`` (the vtracer parameter
encoding), ``manifest`` (sha256 of a package's files), ``rss`` (this process's
memory) and ``wrapper`` (``ProductionInferenceWrapper``). They import only the
standard library, numpy and each other (relatively) at module level, so they
are copied byte for byte into every deployment package as its ``qpdeploy``
package: the wrapper a deployment runs is the one tested here. Every other
layer of qpbench (measure, variants, deploy) imports these; they import none.

This file is copied too: it must not import anything.
"""
