"""The FASHN VTON v1.5 transformer: an MMDiT over person and garment patches, built from FLUX blocks.

The model predicts the rectified-flow velocity of a 3-channel RGB image in [-1, 1] (no VAE, no text
encoder). Two token streams enter the joint attention: the person stream (the noisy image, the
person or clothing-agnostic photo and the person's grey pose map, stacked on channels and patchified)
and the garment stream (the garment photo and its pose map), which plays the part FLUX gives to
text. Both streams share one patch grid, so their rotary positions (0, row, column) are identical.
A few single-stream blocks mix the person patches alone first (the "patch mixer"); only the person
tokens are decoded. Time (t in [0, 1], 0 = noise) and the garment category condition every block
through adaptive normalisation.
"""

from __future__ import annotations

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from diffusers.models.modeling_outputs import Transformer2DModelOutput
from diffusers.models.modeling_utils import ModelMixin
from diffusers.models.normalization import AdaLayerNormContinuous
from diffusers.models.transformers.transformer_flux import (
    FluxPosEmbed,
    FluxSingleTransformerBlock,
    FluxTransformerBlock,
)
from torch import nn

NULL_CATEGORY = 0  # the category embedding's "no garment" row; 1 tops, 2 bottoms, 3 one-pieces
TIME_EMBEDDING_CHANNELS = 256
TIME_SCALE = 1000.0  # t in [0, 1] enters the sinusoidal embedding as t * 1000


def inference_dtype(device: torch.device | str) -> torch.dtype:
    """bfloat16 on a CUDA device that supports it (the published weights are bfloat16), else float32."""
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


class FashnVtonTransformer(ModelMixin, ConfigMixin):
    """The try-on MMDiT; the constructor's arguments are the reference ``TryOnModel``'s, defaults full size.

    Args:
        input_shape: (height, width) of the image canvas, both divisible by ``patch_size``.
        hidden_size: token width; ``hidden_size / n_heads`` is the head width and must equal
            ``sum(axes_dim)``.
        n_heads: attention heads.
        double_blocks_depth: two-stream (person, garment) blocks.
        single_blocks_depth: single-stream blocks over the joint [garment, person] sequence.
        mlp_ratio: MLP width over ``hidden_size``; FLUX's two-stream block fixes it at 4.
        channels_in: image channels (3, RGB).
        patch_size: side of the square patches.
        theta: rotary embedding base.
        axes_dim: rotary dims per position axis (constant 0, row, column).
        qkv_bias: biases on the attention projections; FLUX's blocks always have them.
        n_classes: garment categories, plus the null class 0.
        use_patch_mixer: whether single-stream blocks mix the person tokens before the joint blocks.
        patch_mixer_depth: how many.
    """

    _no_split_modules = ["FluxTransformerBlock", "FluxSingleTransformerBlock"]

    @register_to_config
    def __init__(
        self,
        input_shape: tuple[int, int] = (864, 576),
        hidden_size: int = 1280,
        n_heads: int = 10,
        double_blocks_depth: int = 8,
        single_blocks_depth: int = 16,
        mlp_ratio: int = 4,
        channels_in: int = 3,
        patch_size: int = 12,
        theta: int = 10000,
        axes_dim: tuple[int, int, int] = (16, 56, 56),
        qkv_bias: bool = True,
        n_classes: int = 3,
        use_patch_mixer: bool = True,
        patch_mixer_depth: int = 4,
    ):
        super().__init__()
        head_dim = check_architecture(input_shape, hidden_size, n_heads, mlp_ratio, patch_size, axes_dim, qkv_bias)

        self.time_proj = Timesteps(TIME_EMBEDDING_CHANNELS, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embedding = TimestepEmbedding(TIME_EMBEDDING_CHANNELS, hidden_size)
        self.category_embedding = nn.Embedding(n_classes + 1, hidden_size) if n_classes > 0 else None
        self.pos_embed = FluxPosEmbed(theta=theta, axes_dim=list(axes_dim))

        # noisy image + person (or agnostic) image + person pose map; garment image + garment pose map
        self.x_embedder = nn.Conv2d(2 * channels_in + 1, hidden_size, kernel_size=patch_size, stride=patch_size)
        self.garment_embedder = nn.Conv2d(channels_in + 1, hidden_size, kernel_size=patch_size, stride=patch_size)

        def single_block() -> FluxSingleTransformerBlock:
            return FluxSingleTransformerBlock(hidden_size, n_heads, head_dim, mlp_ratio=mlp_ratio)

        self.patch_mixer_blocks = nn.ModuleList(
            [single_block() for _ in range(patch_mixer_depth if use_patch_mixer else 0)]
        )
        self.transformer_blocks = nn.ModuleList(
            [FluxTransformerBlock(hidden_size, n_heads, head_dim) for _ in range(double_blocks_depth)]
        )
        self.single_transformer_blocks = nn.ModuleList([single_block() for _ in range(single_blocks_depth)])

        self.norm_out = AdaLayerNormContinuous(hidden_size, hidden_size, elementwise_affine=False, eps=1e-6)
        self.proj_out = nn.Linear(hidden_size, channels_in * patch_size**2)

    def forward(
        self,
        x: torch.Tensor,
        times: torch.Tensor,
        ca_images: torch.Tensor,
        garment_images: torch.Tensor,
        person_poses: torch.Tensor,
        garment_poses: torch.Tensor,
        garment_categories: torch.Tensor,
        mask: torch.Tensor | None = None,
        return_dict: bool = True,
    ) -> Transformer2DModelOutput | tuple[torch.Tensor]:
        """The velocity dx/dt at ``x``.

        Args:
            x: (B, 3, H, W) the image at time ``times``, [-1, 1] scale.
            times: (B,) t in [0, 1]; 0 is pure noise, 1 the image.
            ca_images: (B, 3, H, W) the person photo (maskless mode) or the clothing-agnostic image, [-1, 1].
            garment_images: (B, 3, H, W) the garment photo, [-1, 1].
            person_poses, garment_poses: (B, 1, H, W) grey pose maps, [-1, 1] (-1 where nothing is drawn).
            garment_categories: (B,) int64, 1 tops, 2 bottoms, 3 one-pieces.
            mask: (B,) bool; False rows get the null conditioning (images and pose maps zeroed,
                category 0), as classifier-free guidance needs. None keeps every row.

        Returns:
            ``sample``: (B, 3, H, W) the velocity.
        """
        keep = mask if mask is not None else torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
        ca_images, garment_images, person_poses, garment_poses = (
            _null_where_dropped(condition, keep)
            for condition in (ca_images, garment_images, person_poses, garment_poses)
        )

        person_tokens = _to_tokens(self.x_embedder(torch.cat([x, ca_images, person_poses], dim=1)))
        garment_tokens = _to_tokens(self.garment_embedder(torch.cat([garment_images, garment_poses], dim=1)))
        conditioning = self._conditioning(times, garment_categories, keep, dtype=person_tokens.dtype)

        grid_height, grid_width = (side // self.config.patch_size for side in self.config.input_shape)
        grid_ids = patch_grid_ids(grid_height, grid_width, device=x.device)
        person_rotary = self.pos_embed(grid_ids)
        joint_rotary = self.pos_embed(torch.cat([grid_ids, grid_ids]))  # [garment, person]

        no_context = person_tokens[:, :0]
        for block in self.patch_mixer_blocks:
            _, person_tokens = block(person_tokens, no_context, conditioning, image_rotary_emb=person_rotary)
        for block in self.transformer_blocks:
            garment_tokens, person_tokens = block(
                person_tokens, garment_tokens, conditioning, image_rotary_emb=joint_rotary
            )
        for block in self.single_transformer_blocks:
            garment_tokens, person_tokens = block(
                person_tokens, garment_tokens, conditioning, image_rotary_emb=joint_rotary
            )

        patches = self.proj_out(self.norm_out(person_tokens, conditioning))
        velocity = _from_patches(patches, grid_height, grid_width, self.config.patch_size)
        if not return_dict:
            return (velocity,)
        return Transformer2DModelOutput(sample=velocity)

    def _conditioning(
        self, times: torch.Tensor, categories: torch.Tensor, keep: torch.Tensor, dtype: torch.dtype
    ) -> torch.Tensor:
        """(B, hidden) the time embedding plus the category embedding (null class where dropped)."""
        conditioning = self.time_embedding(self.time_proj(times * TIME_SCALE).to(dtype))
        if self.category_embedding is not None:
            categories = torch.where(keep, categories, torch.full_like(categories, NULL_CATEGORY))
            conditioning = conditioning + self.category_embedding(categories)
        return conditioning


def check_architecture(
    input_shape: tuple[int, int],
    hidden_size: int,
    n_heads: int,
    mlp_ratio: int,
    patch_size: int,
    axes_dim: tuple[int, ...],
    qkv_bias: bool,
) -> int:
    """The head width, after refusing a configuration these blocks cannot build (ValueError says why)."""
    if hidden_size % n_heads:
        raise ValueError(f"hidden_size {hidden_size} is not divisible by n_heads {n_heads}")
    head_dim = hidden_size // n_heads
    if sum(axes_dim) != head_dim:
        raise ValueError(f"axes_dim {list(axes_dim)} must sum to the head width {head_dim}")
    if any(side % patch_size for side in input_shape):
        raise ValueError(f"input_shape {list(input_shape)} is not divisible by patch_size {patch_size}")
    if mlp_ratio != 4:
        raise ValueError(f"mlp_ratio {mlp_ratio}: FLUX's two-stream block fixes the MLP at 4x (as FASHN VTON has)")
    if not qkv_bias:
        raise ValueError("qkv_bias False: FLUX's attention always has projection biases (as FASHN VTON has)")
    return head_dim


def patch_grid_ids(grid_height: int, grid_width: int, device: torch.device | str) -> torch.Tensor:
    """(grid_height * grid_width, 3) rotary positions (0, row, column) in row-major patch order."""
    rows = torch.arange(grid_height, device=device).repeat_interleave(grid_width)
    columns = torch.arange(grid_width, device=device).repeat(grid_height)
    return torch.stack([torch.zeros_like(rows), rows, columns], dim=-1).float()


def _null_where_dropped(condition: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``condition`` with the rows where ``keep`` is False zeroed (the null conditioning)."""
    keep = keep.view(-1, *([1] * (condition.ndim - 1)))
    return torch.where(keep, condition, torch.zeros_like(condition))


def _to_tokens(feature_map: torch.Tensor) -> torch.Tensor:
    """(B, D, h, w) -> (B, h * w, D), patches in row-major order."""
    return feature_map.flatten(2).transpose(1, 2)


def _from_patches(patches: torch.Tensor, grid_height: int, grid_width: int, patch_size: int) -> torch.Tensor:
    """(B, h * w, C * p * p), each patch laid out (channel, row in patch, column in patch) -> (B, C, h p, w p)."""
    batch = patches.shape[0]
    channels = patches.shape[-1] // patch_size**2
    patches = patches.view(batch, grid_height, grid_width, channels, patch_size, patch_size)
    return patches.permute(0, 3, 1, 4, 2, 5).reshape(batch, channels, grid_height * patch_size, grid_width * patch_size)
