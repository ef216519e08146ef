import cv2
import numpy as np
import pytest

from tryon.errors import InvalidImage, NoPersonFound
from tryon.engines.classical.pipeline import PreparedGarment, Step, TryOnResult, prepare_garment, run_tryon
from tryon.engines.classical.pipeline.warp import body_frame

from .conftest import DATA_DIR, PERSONS, UPPER_GARMENTS, load_rgb

DOCUMENTED_ORDER = [Step.SEGMENTATION, Step.POSE, Step.WARP, Step.INPAINTING, Step.BLEND, Step.DONE]


@pytest.fixture(scope="module")
def prepared(garments):
    return {name: prepare_garment(photo) for name, photo in garments.items()}


def test_run_tryon_reports_steps_in_documented_order(persons, prepared, analyzer):
    seen = []
    result = run_tryon(
        persons["studio_woman_jacket.png"], prepared["shirt_oxford_blue.jpg"], analyzer, on_step=seen.append
    )
    assert seen == DOCUMENTED_ORDER
    assert isinstance(result, TryOnResult)


def test_a_garment_given_as_a_function_is_prepared_within_the_segmentation_step(persons, garments, analyzer):
    seen = []

    def prepared_now():
        seen.append("garment prepared")
        return prepare_garment(garments["shirt_oxford_blue.jpg"])

    run_tryon(persons["studio_woman_jacket.png"], prepared_now, analyzer, on_step=seen.append)
    assert seen[:3] == [Step.SEGMENTATION, "garment prepared", Step.POSE]


@pytest.mark.parametrize("person_name", PERSONS)
@pytest.mark.parametrize("garment_name", UPPER_GARMENTS)
def test_result_dresses_the_torso_and_keeps_face_and_background(
    persons, poses, silhouettes, prepared, analyzer, person_name, garment_name
):
    person = persons[person_name]
    result = run_tryon(person, prepared[garment_name], analyzer)
    image = result.image
    assert image.shape == person.shape and image.dtype == np.uint8

    pose = poses[person_name]
    frame = body_frame(pose)
    # The chest changed substantially and now shows the garment's colours.
    x, y = np.round(frame.shoulder_mid + 0.35 * (frame.hip_mid - frame.shoulder_mid)).astype(int)
    half = round(0.2 * frame.shoulder_width)
    before = person[y - half : y + half, x - half : x + half].astype(float)
    after = image[y - half : y + half, x - half : x + half].astype(float)
    assert np.abs(after - before).mean() > 20
    garment_colour = _median_colour(prepared[garment_name])
    assert np.abs(np.median(after.reshape(-1, 3), axis=0) - garment_colour).max() < 60

    # The face (eyes to mouth) is untouched.
    points = pose.points
    left, right = sorted([points[7][0], points[8][0]])
    face = (slice(round(points[2][1]) - 10, round(points[10][1])), slice(round(left) + 5, round(right) - 5))
    assert np.array_equal(image[face], person[face])
    # Background well away from the person is untouched.
    far = ~_grown(silhouettes[person_name], round(0.3 * frame.shoulder_width))
    assert np.array_equal(image[far], person[far])


def test_a_cached_prepared_garment_gives_the_same_result(persons, garments, prepared, analyzer):
    person, garment = persons["indoor_man_sweater.jpg"], garments["tshirt_white.jpg"]
    direct = run_tryon(person, prepare_garment(garment), analyzer).image
    cached = run_tryon(person, prepared["tshirt_white.jpg"], analyzer).image
    assert isinstance(prepared["tshirt_white.jpg"], PreparedGarment)
    assert np.array_equal(direct, cached)


@pytest.mark.parametrize("shape", [(400, 300, 3), (300, 600, 3)])
def test_no_person_raises_no_person_found(prepared, analyzer, shape):
    blank = np.full(shape, 235, np.uint8)
    with pytest.raises(NoPersonFound, match="person photo"):
        run_tryon(blank, prepared["tshirt_white.jpg"], analyzer)


def test_head_shot_without_hips_raises_no_person_found(persons, prepared, analyzer, poses):
    person = persons["studio_woman_jacket.png"]
    shoulders_y = int(poses["studio_woman_jacket.png"].points[[11, 12], 1].max())
    head_and_shoulders = np.ascontiguousarray(person[: shoulders_y + 60])
    with pytest.raises(NoPersonFound, match="hips"):
        run_tryon(head_and_shoulders, prepared["tshirt_white.jpg"], analyzer)


def test_non_rgb_input_raises_invalid_image(prepared, analyzer):
    with pytest.raises(InvalidImage, match="person"):
        run_tryon(np.zeros((300, 200), np.uint8), prepared["tshirt_white.jpg"], analyzer)


def _median_colour(prepared_garment):
    return np.median(prepared_garment.cutout.rgb[prepared_garment.cutout.mask].astype(float), axis=0)


def _grown(mask, radius):
    import cv2

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


@pytest.mark.parametrize("garment_name", ["shirt_oxford_blue.jpg", "jeans_blue.jpg", "tshirt_white.jpg"])
def test_a_product_photo_is_not_taken_for_a_person(analyzer, prepared, garment_name) -> None:
    """Pose models find a "face" above a shirt's collar; there is no skin there, so no person."""
    product = load_rgb(DATA_DIR / "garments" / garment_name)
    with pytest.raises(NoPersonFound, match="No person was found"):
        run_tryon(product, prepared["sweatshirt_grey.jpg"], analyzer)


def test_a_grayscale_person_photo_is_still_dressed(analyzer, persons, prepared) -> None:
    gray = cv2.cvtColor(persons["studio_man_hoodie.png"], cv2.COLOR_RGB2GRAY)
    person = cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)
    result = run_tryon(person, prepared["shirt_oxford_blue.jpg"], analyzer)
    assert result.image.shape == person.shape
