"""Run our FASHN VTON v1.5 implementation on a golden case and write what the reference wrote, to compare.

    python model_store_scripts/check_fashn_reference.py COMMAND ARGUMENTS

    pose POSE_JSON OUT.png
    resize IN.png OUT.png
    agnostic PERSON.png SEG.png CATEGORY OUT_AGNOSTIC.png OUT_GARMENT.png
    dwpose CASE_DIR OUT_DIR
    mmdit CASE_DIR OUT.safetensors
    pipeline CASE_DIR OUT.png

The cases are shaped like ``tests/fixtures/fashn-vton-1.5/`` (its README says what each file is):

- ``pose``: a JSON shaped like ``pose/pose_input.json`` (``H``, ``W`` and the keypoints); writes the
  grey pose map, as ``pose_map.png``.
- ``resize``: an image; writes it pre-resized and resize-padded onto the 576x864 canvas, as
  ``out_N.png``, and prints the pre-resized size and the padding (JSON, as in ``cases.json``).
- ``agnostic``: a person image, its parse map (FASHN label ids) and a category (tops, bottoms,
  one-pieces); writes the clothing-agnostic image and the image masked to the category's garments.
- ``dwpose``: a case shaped like ``dwpose/`` (``image.png``, ``README.json``, ``det_output.npz``,
  ``pose_outputs.npz``), run with stand-in sessions that return the stored outputs in call order;
  writes ``det_input.png`` and ``pose_crop_<i>.png`` (what they were fed; crops before
  normalisation, rounded), ``boxes.npy``, ``pose.json`` and ``pose_map.png``.
- ``mmdit``: ``CASE_DIR/config.json`` (``model``, ``sampling``), ``weights.safetensors`` (the
  reference's tensor names, loaded strictly), ``inputs.safetensors``; writes ``forward``, ``v_c``,
  ``v_u`` and ``sample`` as in the case's ``outputs.safetensors``.
- ``pipeline``: ``config.json`` (``model``, ``call``), ``weights.safetensors``, ``person.png``,
  ``garment.png``, ``person_pose.json`` (the keypoints, given instead of detected); writes the
  picture, as the case's ``result.png``.

Everything runs on the CPU in float32. Only ``mmdit`` and ``pipeline`` import torch and diffusers
(inside them): the other commands start in a second rather than several.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from tryon.engines.fashn_vton.inputs import CANVAS_HEIGHT, CANVAS_WIDTH, PRE_RESIZE_SIDE  # noqa: E402
from tryon.engines.fashn_vton.pose_map import draw_pose_map  # noqa: E402
from tryon.vision.agnostic import clothing_agnostic_image, masked_garment_image  # noqa: E402
from tryon.vision.canvas import pre_resize, resize_pad  # noqa: E402
from tryon.vision.dwpose import POSE_MEAN, POSE_STD, detect_people, estimate_keypoints  # noqa: E402
from tryon.vision.keypoints import load_keypoints  # noqa: E402


def check_pose(pose_json: Path, output: Path) -> None:
    """Write the grey pose map of a pose JSON (``H``, ``W``, keypoints) to ``output``."""
    pose = json.loads(pose_json.read_text())
    Image.fromarray(draw_pose_map(load_keypoints(pose), pose["H"], pose["W"])).save(output)


def check_resize(image_path: Path, output: Path) -> None:
    """Write the image pre-resized and resize-padded onto the canvas; print its size and padding."""
    image = np.asarray(Image.open(image_path).convert("RGB"))
    pre_resized = pre_resize(image, PRE_RESIZE_SIDE)
    canvas, padding = resize_pad(pre_resized, CANVAS_HEIGHT, CANVAS_WIDTH)
    Image.fromarray(canvas).save(output)
    padding_ltrb = [padding.left, padding.top, padding.right, padding.bottom]
    print(json.dumps({"pre_resized_hw": list(pre_resized.shape[:2]), "padding_ltrb": padding_ltrb}))


def check_agnostic(person_path: Path, parse_path: Path, category: str, agnostic: Path, garment: Path) -> None:
    """Write the clothing-agnostic image and the image masked to ``category``'s garment labels."""
    person = np.asarray(Image.open(person_path).convert("RGB"))
    parse = np.asarray(Image.open(parse_path))
    Image.fromarray(clothing_agnostic_image(person, parse, category)).save(agnostic)
    Image.fromarray(masked_garment_image(person, parse, category)).save(garment)


class ReplaySession:
    """An onnxruntime-style session that returns stored outputs in call order and records its feeds.

    ``results``: one ``{output name: array}`` per call; each call returns fresh copies.
    """

    def __init__(self, input_name: str, input_shape: list[int], output_names: list[str], results: list[dict]):
        self._input = argparse.Namespace(name=input_name, shape=input_shape)
        self._outputs = [argparse.Namespace(name=name) for name in output_names]
        self._results = results
        self.fed: list[np.ndarray] = []

    def get_inputs(self) -> list:
        return [self._input]

    def get_outputs(self) -> list:
        return self._outputs

    def run(self, output_names: list[str] | None, input_feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.fed.append(np.array(input_feed[self._input.name]))
        result = self._results[len(self.fed) - 1]
        return [np.array(result[name]) for name in output_names or [output.name for output in self._outputs]]


def replay_sessions(case_dir: Path) -> tuple[ReplaySession, ReplaySession]:
    """Stand-in detector and pose sessions for a dwpose case, from its README.json and stored outputs."""
    sessions = json.loads((case_dir / "README.json").read_text())["sessions"]
    detector, pose = sessions["detector"], sessions["pose"]
    detector_outputs = np.load(case_dir / "det_output.npz")
    pose_outputs = np.load(case_dir / "pose_outputs.npz")
    pose_calls = len(pose_outputs.files) // len(pose["outputs"])
    return (
        ReplaySession(detector["input"], detector["shape"], detector["outputs"], [dict(detector_outputs)]),
        ReplaySession(
            pose["input"],
            pose["shape"],
            pose["outputs"],
            [{name: pose_outputs[f"{name}_{call}"] for name in pose["outputs"]} for call in range(pose_calls)],
        ),
    )


def check_dwpose(case_dir: Path, output_dir: Path) -> None:
    """Run the DWPose stage on a dwpose case with stand-in sessions; write what they were fed and the result."""
    image = np.asarray(Image.open(case_dir / "image.png").convert("RGB"))
    output_dir.mkdir(parents=True, exist_ok=True)
    detector, pose_model = replay_sessions(case_dir)
    keypoints = estimate_keypoints(image, detector, pose_model)
    cv2.imwrite(str(output_dir / "det_input.png"), detector.fed[0][0].transpose(1, 2, 0).astype(np.uint8))
    for call, fed in enumerate(pose_model.fed):
        crop = np.rint(fed[0].transpose(1, 2, 0) * POSE_STD + POSE_MEAN).clip(0, 255).astype(np.uint8)
        cv2.imwrite(str(output_dir / f"pose_crop_{call}.png"), crop)
    detector_again, _ = replay_sessions(case_dir)
    np.save(output_dir / "boxes.npy", detect_people(np.ascontiguousarray(image[..., ::-1]), detector_again))
    pose = keypoints.to_reference()
    bodies = {"candidate": pose.pop("candidate"), "subset": pose.pop("subset")}
    (output_dir / "pose.json").write_text(json.dumps({"bodies": bodies, **pose}))
    Image.fromarray(draw_pose_map(keypoints, *image.shape[:2])).save(output_dir / "pose_map.png")


def _case_model(case_dir: Path) -> tuple[dict, "FashnVtonTransformer"]:  # noqa: F821
    """The case's config.json and its model in float32, weights loaded strictly from the reference's names."""
    import torch

    from tryon.engines.fashn_vton.checkpoint import load_reference_checkpoint

    config = json.loads((case_dir / "config.json").read_text())
    model = load_reference_checkpoint(case_dir / "weights.safetensors", config["model"], dtype=torch.float32)
    return config, model


def check_mmdit(case_dir: Path, output: Path) -> None:
    """Write ``forward``, ``v_c``, ``v_u`` and ``sample`` for an mmdit case's inputs to ``output``."""
    import torch
    from safetensors.torch import load_file, save_file

    from tryon.engines.fashn_vton.sampling import Conditioning, conditional_and_null_velocity, sample_euler

    config, model = _case_model(case_dir)
    inputs = load_file(str(case_dir / "inputs.safetensors"))
    conditioning = Conditioning(
        ca_images=inputs["ca_images"],
        garment_images=inputs["garment_images"],
        person_poses=inputs["person_poses"],
        garment_poses=inputs["garment_poses"],
        garment_categories=inputs["garment_categories"],
    )
    sampling = config["sampling"]
    with torch.no_grad():
        forward = model(inputs["x"], inputs["times"], **vars(conditioning), mask=inputs["mask"]).sample
        v_c, v_u = conditional_and_null_velocity(model, inputs["x"], inputs["times"], conditioning)
    sample = sample_euler(
        model,
        inputs["sample_noise"],
        conditioning,
        num_steps=sampling["num_steps"],
        guidance_scale=sampling["guidance_scale"],
        skip_cfg_last_n_steps=sampling["skip_cfg_last_n_steps"],
        time_shift_mu=sampling["time_shift_mu"],
    )
    tensors = {"forward": forward, "v_c": v_c, "v_u": v_u, "sample": sample}
    save_file({name: tensor.contiguous() for name, tensor in tensors.items()}, str(output))


def check_pipeline(case_dir: Path, output: Path) -> None:
    """Write the whole pipeline's picture for a pipeline case (maskless, keypoints given) to ``output``."""
    from tryon.engines.fashn_vton.inputs import TryOnRequest
    from tryon.engines.fashn_vton.pipeline import FashnVtonPipeline

    config, model = _case_model(case_dir)
    call = config["call"]
    if not call.get("segmentation_free", True):
        raise SystemExit("the masked mode needs parse maps, which a pipeline case does not hold")
    request = TryOnRequest(
        person_image=np.asarray(Image.open(case_dir / "person.png").convert("RGB")),
        garment_image=np.asarray(Image.open(case_dir / "garment.png").convert("RGB")),
        category=call["category"],
        person_keypoints=load_keypoints(case_dir / "person_pose.json"),
        garment_photo_type=call["garment_photo_type"],
        seed=call["seed"],
    )
    result = FashnVtonPipeline(model)(
        request,
        num_steps=call["num_timesteps"],
        guidance_scale=call["guidance_scale"],
        skip_cfg_last_n_steps=call["skip_cfg_last_n_steps"],
    )
    Image.fromarray(result.images[0]).save(output)


# Each subcommand: its function, a help line, and its positional arguments (paths, except the category).
SUBCOMMANDS = {
    "pose": (check_pose, "the grey pose map of a pose JSON", ("pose_json", "output_png")),
    "resize": (check_resize, "pre-resize and resize-pad an image onto the canvas", ("image", "output_png")),
    "agnostic": (
        check_agnostic,
        "clothing-agnostic and masked garment images of a person and its parse map (FASHN label ids)",
        ("person_png", "parse_png", "category", "agnostic_png", "garment_png"),
    ),
    "dwpose": (
        check_dwpose, "the DWPose stage on a dwpose case, with stand-in sessions", ("case_dir", "output_dir")
    ),
    "mmdit": (
        check_mmdit, "forward, guidance pair and sampling of an mmdit case", ("case_dir", "output_safetensors")
    ),
    "pipeline": (check_pipeline, "the whole pipeline on a pipeline case", ("case_dir", "output_png")),
}
CATEGORIES = ("tops", "bottoms", "one-pieces")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (run, help_text, arguments) in SUBCOMMANDS.items():
        command = commands.add_parser(name, help=help_text)
        for argument in arguments:
            if argument == "category":
                command.add_argument(argument, choices=CATEGORIES)
            else:
                command.add_argument(argument, type=Path)
        command.set_defaults(run=run, arguments=arguments)

    args = parser.parse_args(argv)
    args.run(*(getattr(args, argument) for argument in args.arguments))


if __name__ == "__main__":
    main()
