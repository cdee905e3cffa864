"""The pruned variant: Conv+BN folded, then global L1 magnitude pruning (``qpbench.optimize.prune``)."""

from __future__ import annotations

import os
import zipfile
from typing import Any

import torch

from qpbench.errors import VariantUnavailable
from qpbench.optimize.compile import recorded_warnings
from qpbench.optimize.prune import NOTE, csr_bytes_estimate, prune_global, pruned_keys, save_sparse, sparsity_report
from qpbench.variants.base import BuildContext, Variant, given_artifact


def build_pruned(ctx: BuildContext) -> Variant:
    """Conv+BN folded, then global L1 unstructured pruning (``options.sparsity``, default 0.3);
    the dense state_dict the runnable loads is the artifact, a sparse encoding is measured beside it."""
    from qpbench.optimize.fusion import fold_conv_bn

    name = "pruned"
    sparsity = ctx.options.sparsity
    fold = ctx.options.fold
    loaded = given_artifact(ctx)
    meta: dict[str, Any] = {"legacy": False, "method": "global_unstructured L1 over Conv2d+Linear weights",
                            "note": NOTE}
    with recorded_warnings(meta):
        model = ctx.workload.build_model()
        if fold:
            model, fusion = fold_conv_bn(model)
            meta["conv_bn_folded"] = fusion.folded
            if fusion.skipped_reason:
                meta["fusion_skipped"] = fusion.skipped_reason
        if loaded is None:
            try:
                report = prune_global(model, sparsity)
            except ValueError as exc:
                raise VariantUnavailable(f"cannot prune: {exc}") from exc
            artifact = ctx.artifact_path(name, ".pt")
            torch.save(model.state_dict(), artifact)
            sparse = ctx.artifact_path(name, ".sparse.npz")
            meta["sparse_artifact_bytes"] = save_sparse(model.state_dict(), pruned_keys(model), sparse)
            meta["sparse_artifact"] = str(sparse)
            meta["csr_int64_bytes_estimate"] = csr_bytes_estimate(model)
        else:
            artifact = loaded
            try:
                model.load_state_dict(torch.load(artifact, map_location="cpu", weights_only=True))
            except (RuntimeError, zipfile.BadZipFile, EOFError) as exc:
                raise VariantUnavailable(f"pruned artifact {artifact} does not fit the model: {exc}") from exc
            report = sparsity_report(model)  # the options of a fresh process need not carry the sparsity
    meta.update(report.as_meta())
    meta.update(artifact=str(artifact), artifact_format="dense state_dict (torch.save) of the folded, pruned model",
                loaded_from_artifact=loaded is not None)
    return Variant(
        name=name,
        module=model.eval(),
        description=f"{'Conv+BN folded, ' if fold else ''}{report.achieved:.0%} global unstructured L1 pruning (dense kernels)",
        threads=ctx.options.threads,
        meta=meta,
        artifact_bytes=os.path.getsize(artifact),
    )
