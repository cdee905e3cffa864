"""Model transforms: each turns a model into a faster one, nothing else.

Fusion, layout, threads and affinity, pruning, quantization, TorchScript,
torch.compile and torch.export / AOTInductor. They never measure for a report,
log globally or print; a routine that needs timings to choose (the thread
sweep) takes an injectable timer. The variants built from them (a name, a
runnable and build metadata) are in ``qpbench.variants``.
"""
