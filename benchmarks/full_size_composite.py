"""What answering at the person photo's own size (``result_size=original``) adds to a FASHN VTON job.

    python benchmarks/full_size_composite.py [--runs 5] [--save DIR]

On the shared person photos, as the engine's blend step does: the photo pre-resized and fitted onto the
model's canvas (what the model sees), then ``tryon.vision.composite.composite_at_photo_size`` of a
model picture onto the photo at its own size, with the garment's zone and the kept face and hands from
mediapipe's keypoints. The model picture stands in for FASHN VTON's (no GPU or weights here): the
classical engine's try-on of the shirt, at the model's size, every pixel 3 levels lighter and slightly
blurred, as a model that redraws the whole picture drifts. Prints medians over ``--runs`` calls of the
composite and of the PNG encode at each size (compress level 1, the service's); ``--save DIR`` writes
each full-size result and a 1:1 crop of its seam for looking at.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.garments import median_ms  # noqa: E402
from tests.conftest import DATA_DIR  # noqa: E402

GARMENT = "garments/shirt_oxford_blue.jpg"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--save", type=Path, default=None, help="write the results and seam crops here")
    args = parser.parse_args()

    from tryon.engines.base import Category
    from tryon.engines.classical.analyzer import local_person_analyzer
    from tryon.engines.classical.pipeline import prepare_garment, run_tryon
    from tryon.engines.fashn_vton.engine import at_photo_size
    from tryon.engines.fashn_vton.inputs import CANVAS_HEIGHT, CANVAS_WIDTH, PRE_RESIZE_SIDE
    from tryon.images import ImageLimits, decode_image, encode_png
    from tryon.vision.canvas import pre_resize, resize_pad, unpad
    from tryon.vision.mediapipe_keypoints import MediapipeKeypoints

    def read(name: str) -> np.ndarray:
        return decode_image(name, (DATA_DIR / name).read_bytes(), ImageLimits())

    analyzer, keypoints_of = local_person_analyzer(), MediapipeKeypoints()
    garment = prepare_garment(read(GARMENT))
    print(f"{'photo':<34} {'size':>10} {'model':>8} {'changed':>8} {'composite':>10} {'png full':>9} {'png model':>10}")
    for path in sorted((DATA_DIR / "persons").iterdir()):
        photo = read(f"persons/{path.name}")
        person = pre_resize(photo, PRE_RESIZE_SIDE)
        canvas, padding = resize_pad(person, CANVAS_HEIGHT, CANVAS_WIDTH)
        seen = unpad(canvas, padding)
        size = seen.shape[1::-1]
        dressed = run_tryon(photo, garment, analyzer, category=Category.UPPER_BODY).image
        picture = as_a_model_would_draw(cv2.resize(dressed, size, interpolation=cv2.INTER_AREA))
        keypoints = keypoints_of(person)

        def composite() -> tuple[np.ndarray, str]:
            return at_photo_size(photo, seen, picture, keypoints, Category.UPPER_BODY)

        image, note = composite()
        composite_ms = median_ms(composite, args.runs)
        full_png_ms = median_ms(lambda: encode_png(image, 1), args.runs)
        model_png_ms = median_ms(lambda: encode_png(picture, 1), args.runs)
        share = note.rsplit(", ", 1)[1].split(" ")[0]
        print(
            f"{path.name:<34} {photo.shape[1]:>4}x{photo.shape[0]:<5} {size[0]:>3}x{size[1]:<4} {share:>8} "
            f"{composite_ms:>8.1f}ms {full_png_ms:>7.1f}ms {model_png_ms:>8.1f}ms"
        )
        if args.save:
            save(args.save, path.stem, image, photo)
    keypoints_of.close()


def as_a_model_would_draw(image: np.ndarray) -> np.ndarray:
    """``image`` (``HxWx3`` uint8) 3 levels lighter and slightly blurred: a whole picture redrawn."""
    lighter = np.clip(image.astype(np.int16) + 3, 0, 255).astype(np.uint8)
    return cv2.GaussianBlur(lighter, (0, 0), 0.7)


def save(folder: Path, stem: str, image: np.ndarray, photo: np.ndarray) -> None:
    """The full-size result, and a 1:1 crop of it beside the photo's where the blend changes most."""
    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / f"{stem}_full.png"), image[..., ::-1])
    changed = np.abs(image.astype(int) - photo).max(axis=2) > 0
    rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
    top, left = max(0, rows[0] - 60), max(0, (cols[0] + cols[-1]) // 2 - 200)
    crop = np.s_[top : top + 400, left : left + 400]
    cv2.imwrite(str(folder / f"{stem}_seam.png"), np.concatenate([photo[crop], image[crop]], axis=1)[..., ::-1])


if __name__ == "__main__":
    main()
