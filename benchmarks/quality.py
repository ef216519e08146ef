"""Measure try-on quality on the shared photos: every person x every garment, category auto.

For each pair, from the input photos and the result only (the person is analysed again with the same
models, independently of the pipeline's own masks), it prints:

- changed: share of the clothing zone whose colour changed visibly (CIE76 delta E > 10). The zone is
  the silhouette between shoulders and hips with the arms (tops), between hips and ankles (trousers),
  or both (dresses), less face, hands, feet and pixels that already showed skin;
- garment|skin: share of that zone whose result colour matches the garment's palette (k-means of its
  cut-out) or the person's skin (sampled on the cheeks), lightness counted at half weight (shading);
- face PSNR (dB) of the box from the eyes to the mouth; background SSIM outside the silhouette;
- outside: share of the picture away from the garment (farther than 0.15 shoulder widths from the
  category's zone, the silhouette's clothing zone with the skin in it) that changed visibly (delta E > 10);
- face same: whether the face box, from above the brows to the chin and half the ears' distance
  wide, is pixel for pixel the input's;
- drift: mean distance of the body landmarks (shoulders to feet), input vs result, % of image height;
- cut-out: the garment cut-out's share of its product photo;
- seconds: the whole ``run_tryon`` (garment not cached) and each step, medians over ``--repeats``.

Then the medians against the targets, and a contact sheet (person | garment | result) at ``--sheet``.

    python benchmarks/quality.py [--data DIR] [--repeats N] [--sheet out/quality_sheet.png]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from photos import DEFAULT_DATA, load_rgb, photos, report  # noqa: E402
from tryon.engines.classical.pipeline import BodyPose, Category, Step, prepare_garment, run_tryon  # noqa: E402
from tryon.engines.classical.pipeline.inpainting import capsule  # noqa: E402
from tryon.engines.classical.pipeline.warp import body_frame  # noqa: E402
from tryon.engines.classical.analyzer import local_person_analyzer  # noqa: E402

TARGETS = {"changed": (">=", 85.0), "garment|skin": (">=", 90.0), "face PSNR": (">=", 35.0),
           "bg SSIM": (">=", 0.97), "drift": ("<=", 2.0)}
BODY_POINTS = list(range(11, 33))


@dataclass(frozen=True)
class Figures:
    changed: float
    garment_or_skin: float
    face_psnr: float
    background_ssim: float
    drift: float
    cutout_share: float
    outside: float
    face_same: bool


def lab(image: np.ndarray) -> np.ndarray:
    """``HxWx3`` float32 CIE Lab (L in 0..100) of a uint8 RGB image."""
    return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def clothing_zone(person: np.ndarray, body: np.ndarray, pose: BodyPose, category: Category, skin: np.ndarray) -> np.ndarray:
    """``HxW`` bool: the silhouette where the category's clothing is, less face, hands, feet and skin."""
    frame = body_frame(pose)
    unit, hip_width = frame.shoulder_width, frame.hip_width
    zone = np.zeros(body.shape, np.uint8)
    if category is not Category.LOWER_BODY:
        torso = np.array([frame.shoulder_l, frame.shoulder_r, frame.hip_r, frame.hip_l])
        cv2.fillConvexPoly(zone, np.round(torso).astype(np.int32), 1)
        for shoulder, elbow, wrist in ((frame.shoulder_l, frame.elbow_l, frame.wrist_l),
                                       (frame.shoulder_r, frame.elbow_r, frame.wrist_r)):
            capsule(zone, shoulder, elbow, 0.15 * unit, 0.12 * unit)
            capsule(zone, elbow, wrist, 0.12 * unit, 0.09 * unit)
    if category is not Category.UPPER_BODY:
        for hip, knee, ankle in ((frame.hip_l, frame.knee_l, frame.ankle_l), (frame.hip_r, frame.knee_r, frame.ankle_r)):
            capsule(zone, hip, knee, 0.45 * hip_width, 0.3 * hip_width)
            capsule(zone, knee, ankle, 0.3 * hip_width, 0.22 * hip_width)
    excluded = np.zeros(body.shape, np.uint8)
    points = pose.points
    ears = float(np.linalg.norm(points[7] - points[8]))
    cv2.ellipse(excluded, tuple(int(v) for v in points[0]), (round(0.7 * ears), round(1.0 * ears)), 0, 0, 360, 1, -1)
    for hand in (15, 16):
        centre = points[[hand, hand + 2, hand + 4, hand + 6]].mean(axis=0)
        cv2.circle(excluded, tuple(int(v) for v in centre), round(0.15 * unit), 1, -1)
    for ankle in (27, 28):
        top = round(points[ankle][1] + 0.1 * hip_width)
        left = round(points[ankle][0] - 0.7 * hip_width)
        excluded[max(0, top):, max(0, left): max(0, left + round(1.4 * hip_width))] = 1
    return zone.astype(bool) & body & ~excluded.astype(bool) & ~skin


def skin_colour(person_lab: np.ndarray, pose: BodyPose) -> np.ndarray:
    """``(N, 3)`` Lab samples of the cheeks (below the outer eye corners, beside the nose)."""
    points = pose.points
    radius = max(2, round(0.15 * float(np.linalg.norm(points[7] - points[8]))))
    samples = []
    for outer in (3, 6):
        x, y = np.round(0.5 * points[outer] + 0.5 * points[0] + (0, radius)).astype(int)
        samples.append(person_lab[y - radius : y + radius, x - radius : x + radius].reshape(-1, 3))
    return np.concatenate(samples)


def palette(samples: np.ndarray, k: int) -> np.ndarray:
    """``(k, 3)`` k-means centres of ``(N, 3)`` float32 samples."""
    samples = samples[:: max(1, len(samples) // 20000)].astype(np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    cv2.setRNGSeed(0)
    _, _, centres = cv2.kmeans(samples, min(k, len(samples)), None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    return centres


def matches(pixels: np.ndarray, centres: np.ndarray, tolerance: float) -> np.ndarray:
    """``(N,)`` bool: pixels within ``tolerance`` of a centre, lightness at half weight."""
    weights = np.array([0.5, 1.0, 1.0], np.float32)
    distance = np.linalg.norm((pixels[:, None, :] - centres[None]) * weights, axis=2)
    return distance.min(axis=1) < tolerance


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``HxW`` SSIM of two uint8 grey images, Gaussian window sigma 1.5 (Wang et al. 2004 constants)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5)

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2
    covariance = blur(a * b) - mu_a * mu_b
    return ((2 * mu_a * mu_b + c1) * (2 * covariance + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if error == 0 else 10 * np.log10(255.0**2 / error)


def figures(person, body, pose, result, result_pose, category, prepared, garment_photo) -> Figures:
    person_lab, result_lab = lab(person), lab(result)
    skin_samples = skin_colour(person_lab, pose)
    skin_centre = np.median(skin_samples, axis=0)
    weights = np.array([0.5, 1.0, 1.0], np.float32)
    skin = np.linalg.norm((person_lab - skin_centre) * weights, axis=2) < 8
    zone = clothing_zone(person, body, pose, category, skin)
    moved = np.linalg.norm(result_lab - person_lab, axis=2) > 10
    changed = moved[zone]
    garment_lab = lab(prepared.cutout.rgb)[prepared.cutout.mask]
    known = matches(result_lab[zone], palette(garment_lab, 8), 12) | matches(result_lab[zone], palette(skin_samples, 3), 15)
    points = pose.points
    left, right = sorted([points[7][0], points[8][0]])
    face = (slice(round(points[2][1]) - 10, round(points[10][1]) + 5), slice(round(left) + 5, round(right) - 5))
    grey = [cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) for image in (person, result)]
    drift = np.linalg.norm(result_pose.points[BODY_POINTS] - points[BODY_POINTS], axis=1).mean()
    reach = round(0.15 * body_frame(pose).shoulder_width)
    near = cv2.dilate(clothing_zone(person, body, pose, category, np.zeros_like(skin)).astype(np.uint8),
                      cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))).astype(bool)
    eyes, mouth = points[[2, 5]].mean(axis=0), points[[9, 10]].mean(axis=0)
    face_height, ears = float(np.linalg.norm(mouth - eyes)), float(np.linalg.norm(points[7] - points[8]))
    face_box = (slice(round(eyes[1] - 0.8 * face_height), round(mouth[1] + 0.75 * face_height)),
                slice(round(points[0][0] - 0.35 * ears), round(points[0][0] + 0.35 * ears)))
    return Figures(
        changed=100 * float(changed.mean()),
        garment_or_skin=100 * float(known.mean()),
        face_psnr=psnr(person[face], result[face]),
        background_ssim=float(ssim_map(*grey)[~body].mean()),
        drift=100 * float(drift) / person.shape[0],
        cutout_share=100 * float(prepared.cutout.mask.sum()) / (garment_photo.shape[0] * garment_photo.shape[1]),
        outside=100 * float(moved[~near].mean()),
        face_same=bool(np.array_equal(result[face_box], person[face_box])),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with persons/ and garments/")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per pair")
    parser.add_argument("--sheet", type=Path, default=Path("out/quality_sheet.png"), help="contact sheet PNG")
    args = parser.parse_args()

    persons = [(p.stem, load_rgb(p)) for p in photos(args.data / "persons")]
    garments = [(g.stem, load_rgb(g)) for g in photos(args.data / "garments")]
    analyzer = local_person_analyzer()
    run_tryon(persons[0][1], prepare_garment(garments[0][1]), analyzer)  # warm up the models

    steps = [step.value for step in Step if step is not Step.DONE]
    timings: dict[str, list[float]] = {name: [] for name in [*steps, "total"]}
    rows, table = [], []
    header = (f"{'person + garment':<42} {'category':<11} {'changed%':>8} {'garm|skin%':>10} {'facePSNR':>8} {'bgSSIM':>7} "
              f"{'drift%':>6} {'cutout%':>7} {'outside%':>8} {'face':>4} {'total s':>7}")
    print(header)
    for person_name, person in persons:
        pose = analyzer.estimate_pose(person)
        body = analyzer.segment_person(person) > 0.5
        for garment_name, garment in garments:
            totals = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                prepared = prepare_garment(garment)  # part of segmentation, as in the service (uncached)
                preparing = time.perf_counter() - started
                marks: list[tuple[str, float]] = []  # each step's name and when it started
                result = run_tryon(
                    person, prepared, analyzer, category=Category.AUTO,
                    on_step=lambda step: marks.append((step.value, time.perf_counter())),
                )  # fmt: skip
                seconds = {name: end - start for (name, start), (_, end) in zip(marks, marks[1:])}
                seconds["segmentation"] += preparing
                for name in steps:
                    timings[name].append(seconds[name])
                totals.append(sum(seconds.values()))
            timings["total"].extend(totals)
            result_pose = analyzer.estimate_pose(result.image)
            found = figures(person, body, pose, result.image, result_pose, result.category, prepared, garment)
            table.append(found)
            rows.append((person, garment, result.image))
            print(
                f"{person_name + ' + ' + garment_name:<42} {result.category.value:<11} {found.changed:8.1f} "
                f"{found.garment_or_skin:10.1f} {found.face_psnr:8.1f} {found.background_ssim:7.4f} "
                f"{found.drift:6.2f} {found.cutout_share:7.1f} {found.outside:8.2f} {'same' if found.face_same else 'ALT':>4} "
                f"{statistics.median(totals):7.3f}"
            )
            for note in result.notes:
                print(f"    note: {note}")

    medians = {
        "changed": statistics.median(f.changed for f in table),
        "garment|skin": statistics.median(f.garment_or_skin for f in table),
        "face PSNR": statistics.median(f.face_psnr for f in table),
        "bg SSIM": statistics.median(f.background_ssim for f in table),
        "drift": statistics.median(f.drift for f in table),
        "cut-out": statistics.median(f.cutout_share for f in table),
        "outside": statistics.median(f.outside for f in table),
    }
    print(f"\nmedians over {len(table)} pairs")
    for name, value in medians.items():
        target = TARGETS.get(name)
        verdict = ""
        if target:
            sign, limit = target
            ok = value >= limit if sign == ">=" else value <= limit
            verdict = f"  target {sign} {limit}: {'met' if ok else 'MISSED'}"
        print(f"  {name:<13} {value:9.3f}{verdict}")
    print(f"  face box identical on {sum(f.face_same for f in table)} of {len(table)} pairs")
    report(timings, rows, args.sheet, f"{len(table)} pairs x {args.repeats} runs (garment not cached)")


if __name__ == "__main__":
    main()
