"""The published FASHN VTON checkpoint's tensors, mapped onto ``FashnVtonTransformer``'s, and loaded strictly.

The reference names its tensors as BFL's FLUX code does; diffusers' FLUX blocks split some of them:

- a fused attention ``qkv`` (laid out q, k, v, each heads x head-dim) -> ``to_q``, ``to_k``, ``to_v``
  (``add_*_proj`` for the garment stream);
- a single-stream block's ``linear1`` -> q, k, v and the MLP input (sizes D, D, D, mlp); ``linear2``
  is its output projection;
- the final layer's modulation is (shift, scale), diffusers' ``AdaLayerNormContinuous`` wants
  (scale, shift): the halves swap;
- RMSNorm ``scale`` is the norm's ``weight``; modulation chunks keep their order (shift, scale, gate);
- ``patch_mixer_token`` is a training-time buffer that inference never reads: checked, then dropped.

One key map, enumerated from a model's configuration, serves the loader, the importer's validation
and the full-size layout check; every error names the tensor.

Both loaders here (the reference checkpoint, and our ``save_pretrained`` folders in the model store)
build the model on the meta device and take the file's tensors as its parameters: the 972M-parameter
model is never built and randomly initialised first.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import json

import torch
from diffusers.utils.constants import SAFE_WEIGHTS_INDEX_NAME, SAFETENSORS_WEIGHTS_NAME
from safetensors.torch import load_file

from .transformer import FashnVtonTransformer

Shape = tuple[int, ...]
SAFETENSORS_DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}


class CheckpointMismatchError(ValueError):
    """A checkpoint's tensors are not the model's: lists every missing, extra and mis-shaped tensor by name."""

    def __init__(self, missing: Sequence[str], extra: Sequence[str], misshaped: Mapping[str, tuple[Shape, Shape]]):
        self.missing = sorted(missing)
        self.extra = sorted(extra)
        self.misshaped = dict(sorted(misshaped.items()))
        lines = [f"missing tensor {name}" for name in self.missing]
        lines += [f"unexpected tensor {name}" for name in self.extra]
        lines += [
            f"tensor {name} has shape {list(found)}, expected {list(expected)}"
            for name, (found, expected) in self.misshaped.items()
        ]
        super().__init__("checkpoint does not match FASHN VTON: " + "; ".join(lines))


@dataclass(frozen=True)
class KeyRule:
    """One reference tensor: the tensors of ours it becomes, split along dim 0 in this order.

    ``targets`` empty: a tensor that inference never reads (``ignored_shape`` is then its shape).
    """

    reference: str
    targets: tuple[str, ...]
    swap_halves: bool = False
    ignored_shape: Shape | None = None


def _attention_rules(reference: str, projections: Sequence[str], norms: Sequence[str], output: str) -> list[KeyRule]:
    """A reference ``SelfAttention`` (fused qkv, QK RMSNorm, output projection) -> our q, k, v, norms, output."""
    query_norm, key_norm = norms
    return [
        *(KeyRule(f"{reference}.qkv.{p}", tuple(f"{t}.{p}" for t in projections)) for p in ("weight", "bias")),
        KeyRule(f"{reference}.norm.query_norm.scale", (f"{query_norm}.weight",)),
        KeyRule(f"{reference}.norm.key_norm.scale", (f"{key_norm}.weight",)),
        *_linear_rules(f"{reference}.proj", output),
    ]


def _linear_rules(reference: str, ours: str, swap_halves: bool = False) -> list[KeyRule]:
    return [KeyRule(f"{reference}.{p}", (f"{ours}.{p}",), swap_halves=swap_halves) for p in ("weight", "bias")]


def _double_block_rules(index: int) -> list[KeyRule]:
    reference, ours = f"double_blocks.{index}", f"transformer_blocks.{index}"
    rules = []
    for stream, context in (("img", ""), ("txt", "_context")):
        rules += _linear_rules(f"{reference}.{stream}_mod.lin", f"{ours}.norm1{context}.linear")
        rules += _linear_rules(f"{reference}.{stream}_mlp.0", f"{ours}.ff{context}.net.0.proj")
        rules += _linear_rules(f"{reference}.{stream}_mlp.2", f"{ours}.ff{context}.net.2")
    attn = f"{ours}.attn"
    rules += _attention_rules(
        f"{reference}.img_attn",
        projections=[f"{attn}.to_q", f"{attn}.to_k", f"{attn}.to_v"],
        norms=[f"{attn}.norm_q", f"{attn}.norm_k"],
        output=f"{attn}.to_out.0",
    )
    rules += _attention_rules(  # the garment is the context ("text") stream
        f"{reference}.txt_attn",
        projections=[f"{attn}.add_q_proj", f"{attn}.add_k_proj", f"{attn}.add_v_proj"],
        norms=[f"{attn}.norm_added_q", f"{attn}.norm_added_k"],
        output=f"{attn}.to_add_out",
    )
    return rules


def _single_block_rules(reference: str, ours: str) -> list[KeyRule]:
    fused_input = tuple(f"{ours}.attn.to_{name}" for name in ("q", "k", "v")) + (f"{ours}.proj_mlp",)
    return [
        *(KeyRule(f"{reference}.linear1.{p}", tuple(f"{t}.{p}" for t in fused_input)) for p in ("weight", "bias")),
        *_linear_rules(f"{reference}.linear2", f"{ours}.proj_out"),
        KeyRule(f"{reference}.norm.query_norm.scale", (f"{ours}.attn.norm_q.weight",)),
        KeyRule(f"{reference}.norm.key_norm.scale", (f"{ours}.attn.norm_k.weight",)),
        *_linear_rules(f"{reference}.modulation.lin", f"{ours}.norm.linear"),
    ]


def key_map(config: Mapping) -> list[KeyRule]:
    """Every tensor of the reference checkpoint for a ``FashnVtonTransformer`` config, and where it goes."""
    rules = [
        *_linear_rules("t_embedder.mlp.in_layer", "time_embedding.linear_1"),
        *_linear_rules("t_embedder.mlp.out_layer", "time_embedding.linear_2"),
        *_linear_rules("x_embedder.proj", "x_embedder"),
        *_linear_rules("garment_embedder.proj", "garment_embedder"),
        *_linear_rules("final_layer.adaLN_modulation.1", "norm_out.linear", swap_halves=True),
        *_linear_rules("final_layer.linear", "proj_out"),
    ]
    if config["n_classes"] > 0:
        rules.append(KeyRule("y_embedder.weight", ("category_embedding.weight",)))
    if config["use_patch_mixer"]:
        token_shape = (1, 1, config["channels_in"] * config["patch_size"] ** 2)
        rules.append(KeyRule("patch_mixer_token", (), ignored_shape=token_shape))
        for index in range(config["patch_mixer_depth"]):
            rules += _single_block_rules(f"x_patch_mixer.{index}", f"patch_mixer_blocks.{index}")
    for index in range(config["double_blocks_depth"]):
        rules += _double_block_rules(index)
    for index in range(config["single_blocks_depth"]):
        rules += _single_block_rules(f"single_blocks.{index}", f"single_transformer_blocks.{index}")
    return rules


def reference_shapes(model: FashnVtonTransformer) -> dict[str, Shape]:
    """{reference tensor name: shape} the published checkpoint of this model's config must hold.

    Derived from the model's own tensors (split targets concatenate along dim 0), so it works on the
    meta device.
    """
    ours = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
    shapes = {}
    for rule in key_map(model.config):
        if not rule.targets:
            shapes[rule.reference] = rule.ignored_shape
            continue
        first = ours[rule.targets[0]]
        shapes[rule.reference] = (sum(ours[target][0] for target in rule.targets), *first[1:])
    return shapes


def validate_tensor_shapes(found: Mapping[str, Sequence[int]], expected: Mapping[str, Sequence[int]]) -> None:
    """Refuse a checkpoint whose {name: shape} is not exactly ``expected`` (CheckpointMismatchError names each)."""
    missing = [name for name in expected if name not in found]
    extra = [name for name in found if name not in expected]
    misshaped = {
        name: (tuple(shape), tuple(expected[name]))
        for name, shape in found.items()
        if name in expected and tuple(shape) != tuple(expected[name])
    }
    if missing or extra or misshaped:
        raise CheckpointMismatchError(missing, extra, misshaped)


def convert_reference_state_dict(reference: Mapping[str, torch.Tensor], config: Mapping) -> dict[str, torch.Tensor]:
    """The reference's tensors under our names (splits and swaps as the module docstring says).

    The split sizes come from the config; ``reference`` must already have passed validation.
    """
    hidden = config["hidden_size"]
    converted = {}
    for rule in key_map(config):
        tensor = reference[rule.reference]
        if not rule.targets:
            continue
        if rule.swap_halves:
            shift, scale = tensor.chunk(2, dim=0)
            tensor = torch.cat([scale, shift], dim=0)
        sizes = [hidden] * (len(rule.targets) - 1)
        sizes.append(tensor.shape[0] - sum(sizes))
        for target, part in zip(rule.targets, tensor.split(sizes, dim=0), strict=True):
            converted[target] = part
    return converted


def load_reference_state_dict(
    model: FashnVtonTransformer, reference: Mapping[str, torch.Tensor], *, assign: bool = False
) -> None:
    """Load the reference checkpoint's tensors into ``model``: every one used, none missing, shapes checked.

    ``assign``: take the tensors themselves (dtype included) instead of copying into the model's, as
    a model built on the meta device needs.
    """
    validate_tensor_shapes({name: tensor.shape for name, tensor in reference.items()}, reference_shapes(model))
    converted = convert_reference_state_dict(reference, model.config)
    tensors = {name: tensor.contiguous() for name, tensor in converted.items()}
    model.load_state_dict(tensors, strict=True, assign=assign)


def load_reference_checkpoint(
    path: str | Path, config: Mapping | None = None, dtype: torch.dtype | None = None
) -> FashnVtonTransformer:
    """A transformer of ``config`` (default: full size) holding the reference ``.safetensors`` file's weights.

    ``dtype``: the weights' dtype, default the file's (the published checkpoint is bfloat16). Nothing
    is initialised at random first.
    """
    with torch.device("meta"):
        model = FashnVtonTransformer(**(config or {}))
    reference = load_file(str(path))
    if dtype is not None:
        reference = {name: tensor.to(dtype) for name, tensor in reference.items()}
    load_reference_state_dict(model, reference, assign=True)
    return model.eval()


def check_full_size_manifest(manifest: Mapping[str, Sequence[int]]) -> None:
    """Build the full-size model on the meta device and check it accounts for exactly the manifest's tensors.

    ``manifest``: {reference name: shape} of the published checkpoint. Raises CheckpointMismatchError
    if the key map misses, adds or mis-shapes a reference tensor, or if the converted tensors are not
    exactly the model's.
    """
    with torch.device("meta"):
        model = FashnVtonTransformer()
    validate_tensor_shapes(manifest, reference_shapes(model))
    meta_tensors = {name: torch.empty(tuple(shape), device="meta") for name, shape in manifest.items()}
    converted = convert_reference_state_dict(meta_tensors, model.config)
    validate_tensor_shapes(
        {name: tensor.shape for name, tensor in converted.items()},
        {name: tensor.shape for name, tensor in model.state_dict().items()},
    )


def saved_weight_files(folder: str | Path) -> list[Path]:
    """The safetensors files of a ``save_pretrained`` folder: the single file, or the shards its index names."""
    folder = Path(folder)
    index = folder / SAFE_WEIGHTS_INDEX_NAME
    if index.is_file():
        return [folder / name for name in sorted(set(json.loads(index.read_text())["weight_map"].values()))]
    single = folder / SAFETENSORS_WEIGHTS_NAME
    if not single.is_file():
        raise FileNotFoundError(f"{folder} holds neither {SAFETENSORS_WEIGHTS_NAME} nor {SAFE_WEIGHTS_INDEX_NAME}")
    return [single]


def read_safetensors(path: str | Path, *, device: torch.device, dtype: torch.dtype) -> Iterator[tuple[str, torch.Tensor]]:
    """(name, tensor) of each tensor of a ``.safetensors`` file, on ``device`` in ``dtype``, in file order.

    Read with plain reads, one tensor at a time, not memory-mapped (``safetensors.load_file``): a
    mapped file's pages stay resident in the process while it is mapped, so a float32 model loaded
    from the bfloat16 file would hold both.
    """
    from .model_store import safetensors_header

    header, data_start = safetensors_header(path)
    with open(path, "rb") as file:
        for name, entry in header.items():
            begin, end = entry["data_offsets"]
            raw = torch.empty(end - begin, dtype=torch.uint8)  # not zeroed: the read fills it
            file.seek(data_start + begin)
            file.readinto(raw.numpy().data)
            tensor = raw.view(SAFETENSORS_DTYPES[entry["dtype"]]).reshape(entry["shape"])
            yield name, tensor.to(device=device, dtype=dtype)


def load_saved_transformer(
    folder: str | Path, *, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
) -> FashnVtonTransformer:
    """The transformer of a ``save_pretrained`` folder (config.json + safetensors), on ``device`` in ``dtype``.

    Built on the meta device (no memory, no random initialisation), then given the file's tensors
    (``read_safetensors``: one at a time, cast to ``dtype`` on ``device``) as its parameters:
    strictly, every tensor used and none missing. Peak host memory is the loaded model plus one
    tensor on the CPU, and one tensor when ``device`` is CUDA.
    """
    folder = Path(folder)
    config = FashnVtonTransformer.load_config(folder)
    with torch.device("meta"):
        model = FashnVtonTransformer.from_config(config)
    tensors: dict[str, torch.Tensor] = {}
    for path in saved_weight_files(folder):
        tensors.update(read_safetensors(path, device=torch.device(device), dtype=dtype))
    model.load_state_dict(tensors, strict=True, assign=True)
    on_meta = [name for name, tensor in [*model.named_parameters(), *model.named_buffers()] if tensor.is_meta]
    if on_meta:  # a tensor the file does not hold and the constructor did not make (none today)
        raise CheckpointMismatchError(on_meta, [], {})
    return model.eval()
