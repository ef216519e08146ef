"""What deciding a garment's category and masking a worn garment cost on the CPU.

    python benchmarks/garments.py [--runs 5]

On the shared photos at the FASHN engine's working size (``inputs.PRE_RESIZE_SIDE``): the flat-lay cut-out
and its classification (each shared garment), the worn classification, the geometric mask and the SAM
prompts (each shared person), mediapipe's person check and selfie segmentation, and one Segment
Anything call of a random ``SamModel`` of ViT-B's size (``SamConfig()``'s defaults: the architecture of
``facebook/sam-vit-base``, random weights, no download) and of the tiny test masker. Medians over
``--runs`` calls, after one warm-up call.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import DATA_DIR  # noqa: E402


def median_ms(call: Callable[[], object], runs: int) -> float:
    call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs

    import cv2
    import numpy as np
    import torch
    from transformers import SamConfig, SamImageProcessorPil, SamModel, SamProcessor

    from tryon.engines.fashn_vton.inputs import PRE_RESIZE_SIDE
    from tryon.vision.canvas import pre_resize
    from tryon.vision.keypoints import body_points
    from tryon.vision.mediapipe_keypoints import MediapipeKeypoints
    from tryon.models.garment_masker import GarmentMasker
    from tryon.models.garment_masker_store import tiny_garment_masker
    from tryon.models.selfie_segmenter import SelfieSegmenter
    from tryon.vision.cutout import flat_lay_mask
    from tryon.vision.garments import GarmentUndecidable, classify_flat_lay, classify_worn
    from tryon.vision.prompts import garment_prompts
    from tryon.vision.zones import geometric_garment_mask

    def photo(path: Path) -> np.ndarray:
        return pre_resize(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB), PRE_RESIZE_SIDE)

    rows: list[tuple[str, float]] = []
    for path in sorted((DATA_DIR / "garments").iterdir()):
        image = photo(path)
        rows.append((f"flat-lay cut-out + classify, {path.name}", median_ms(lambda: classify_flat_lay(flat_lay_mask(image).mask), runs)))

    estimate, segmenter = MediapipeKeypoints(), SelfieSegmenter()
    person = photo(DATA_DIR / "persons" / "studio_woman_jacket.png")
    body = body_points(estimate(person), *person.shape[:2])
    silhouette = segmenter.segment_batch(person[None])[0] > 0.5
    prompts = garment_prompts(body, "upper_body")

    def worn() -> None:
        try:
            classify_worn(person, body, silhouette)
        except GarmentUndecidable:
            pass

    rows += [
        ("mediapipe person check (pose detector)", median_ms(lambda: estimate.finds_person(person), runs)),
        ("mediapipe keypoints (pose, hands, face)", median_ms(lambda: estimate(person), runs)),
        ("selfie segmentation", median_ms(lambda: segmenter.segment_batch(person[None]), runs)),
        ("classify worn", median_ms(worn, runs)),
        ("geometric mask, upper_body", median_ms(lambda: geometric_garment_mask(silhouette, body, "upper_body"), runs)),
        ("SAM prompts, upper_body", median_ms(lambda: garment_prompts(body, "upper_body"), runs)),
    ]

    class Stored:  # what GarmentMasker reads of a stored model
        def __init__(self, path: str) -> None:
            self.path = path

    import tempfile

    torch.manual_seed(0)
    for name, (model, processor) in (
        ("tiny test masker", tiny_garment_masker()),
        ("ViT-B SAM (random weights)", (SamModel(SamConfig()).eval(), SamProcessor(image_processor=SamImageProcessorPil()))),
    ):
        with tempfile.TemporaryDirectory() as folder:
            model.save_pretrained(folder)
            processor.save_pretrained(folder)
            masker = GarmentMasker(Stored(folder))
            rows.append((f"Segment Anything call, {name}", median_ms(lambda: masker.mask(person, prompts.points, prompts.labels), runs)))

    width = max(len(label) for label, _ in rows)
    print(f"photos at {person.shape[1]}x{person.shape[0]} (person); medians of {runs} runs, torch threads {torch.get_num_threads()}")
    for label, ms in rows:
        print(f"{label:<{width}}  {ms:8.1f} ms")


if __name__ == "__main__":
    main()
