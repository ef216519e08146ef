import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnxruntime import get_available_providers

from model_store_scripts.check_fashn_reference import ReplaySession, replay_sessions
from tryon.vision.dwpose import (
    DETECTOR_FILE,
    POSE_MEAN,
    POSE_MODEL_FILE,
    POSE_STD,
    WholeBodyPoses,
    detect_people,
    estimate_keypoints,
    main_person_index,
    open_sessions,
)
from tryon.engines.fashn_vton.pose_map import draw_pose_map
from tryon.vision.keypoints import load_keypoints

from ..fashn_vton.golden_images import DWPOSE, assert_png_matches, read_json, read_png


def golden_image() -> np.ndarray:
    return read_png(DWPOSE / "image.png")


def test_golden_dwpose_stage():
    detector, pose_model = replay_sessions(DWPOSE)
    image = golden_image()

    keypoints = estimate_keypoints(image, detector, pose_model)

    # What the stand-ins were fed: the letterboxed BGR photo, then one crop per person (as BGR files).
    assert len(detector.fed) == 1 and detector.fed[0].shape == (1, 3, 640, 640)
    assert detector.fed[0].dtype == np.float32
    letterbox = detector.fed[0][0].transpose(1, 2, 0)[..., ::-1].astype(np.uint8)
    assert_png_matches(letterbox, read_png(DWPOSE / "det_input.png"))
    assert len(pose_model.fed) == read_json(DWPOSE / "README.json")["pose_calls"]
    for call, fed in enumerate(pose_model.fed):
        assert fed.shape == (1, 3, 384, 288) and fed.dtype == np.float32
        crop = np.rint(fed[0].transpose(1, 2, 0) * POSE_STD + POSE_MEAN).clip(0, 255).astype(np.uint8)
        assert_png_matches(crop[..., ::-1], read_png(DWPOSE / f"pose_crop_{call}.png"))
    # The one person kept, and its map.
    expected = load_keypoints(DWPOSE / "pose.json")
    for name in ("body", "hands", "face"):
        assert np.allclose(getattr(keypoints, name), getattr(expected, name), rtol=0, atol=1e-9), name
    assert_png_matches(draw_pose_map(keypoints, *image.shape[:2]), read_png(DWPOSE / "pose_map.png"))


def test_golden_person_boxes():
    detector, _ = replay_sessions(DWPOSE)
    boxes = detect_people(np.ascontiguousarray(golden_image()[..., ::-1]), detector)
    expected = np.load(DWPOSE / "boxes.npy")
    assert len(boxes) == read_json(DWPOSE / "README.json")["people_detected"]
    assert np.allclose(boxes, expected, rtol=0, atol=1e-6)


def test_nobody_detected_reads_the_whole_photo_as_one_person():
    image = golden_image()
    _, pose_model = replay_sessions(DWPOSE)
    nobody = np.zeros((1, 8400, 85), np.float32)
    detector = ReplaySession("images", [1, 3, 640, 640], ["output"], [{"output": nobody}])

    estimate_keypoints(image, detector, pose_model)

    assert len(pose_model.fed) == 1
    crop = pose_model.fed[0][0].transpose(1, 2, 0) * POSE_STD + POSE_MEAN
    # The photo's box (540 x 864) padded 1.25 times and widened to 3:4 is 810 x 1080: the photo spans
    # two thirds of the crop's width, black beside it.
    columns = np.flatnonzero(np.abs(crop).max(axis=(0, 2)) > 1)
    assert 0.5 < len(columns) / crop.shape[1] < 0.7


def test_a_grey_image_is_refused():
    detector, pose_model = replay_sessions(DWPOSE)
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        estimate_keypoints(golden_image()[..., 0], detector, pose_model)


# Tiny stand-ins with the real models' names and shapes, run through onnxruntime itself.
PHOTO_HEIGHT, PHOTO_WIDTH = 864, 540
LETTERBOX_SCALE = 640 / 864
# One person, predicted by the stride-32 cell at column 8, row 10: centre (272, 336), 160 x 480 in the
# letterbox.
PERSON_CELL = 80 * 80 + 40 * 40 + 10 * 20 + 8
PERSON_BOX = np.array([192, 96, 352, 576]) / LETTERBOX_SCALE
# The box padded 1.25 times and widened to 3:4: 607.5 x 810 photo pixels over the 288 x 384 crop.
CROP_SIZE = np.array([607.5, 810.0])
LEFT_WRIST_COCO, LEFT_WRIST_OPENPOSE = 9, 7


def constant_graph_model(input_name, input_shape, outputs):
    """An ONNX model whose outputs are constants plus 0 x the mean of its input (so the input is read)."""
    nodes = [
        helper.make_node("ReduceMean", [input_name], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
    ]
    initializers = [numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    graph_outputs = []
    for name, value in outputs.items():
        initializers.append(numpy_helper.from_array(value, f"{name}_value"))
        nodes.append(helper.make_node("Add", [f"{name}_value", "nothing"], [name]))
        graph_outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(value.shape)))
    graph = helper.make_graph(
        nodes,
        "stand_in",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, input_shape)],
        graph_outputs,
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


def tiny_detector():
    predictions = np.zeros((1, 8400, 85), np.float32)
    predictions[0, PERSON_CELL, :4] = [0.5, 0.5, np.log(160 / 32), np.log(480 / 32)]
    predictions[0, PERSON_CELL, 4:6] = 0.9  # objectness, person class
    return constant_graph_model("images", [1, 3, 640, 640], {"output": predictions})


def tiny_pose_model():
    """Every point at the crop's centre (144, 192), the left wrist at (216, 288); SimCC bins are half pixels."""
    simcc_x, simcc_y = np.zeros((1, 133, 576), np.float32), np.zeros((1, 133, 768), np.float32)
    simcc_x[0, :, 288], simcc_y[0, :, 384] = 0.9, 0.8
    simcc_x[0, LEFT_WRIST_COCO], simcc_y[0, LEFT_WRIST_COCO] = 0, 0
    simcc_x[0, LEFT_WRIST_COCO, 432], simcc_y[0, LEFT_WRIST_COCO, 576] = 0.9, 0.8
    return constant_graph_model("input", [1, 3, 384, 288], {"simcc_x": simcc_x, "simcc_y": simcc_y})


def test_tiny_onnx_graphs_through_onnxruntime(tmp_path):
    onnx.save(tiny_detector(), tmp_path / DETECTOR_FILE)
    onnx.save(tiny_pose_model(), tmp_path / POSE_MODEL_FILE)
    detector, pose_model = open_sessions(tmp_path)  # CUDA only where onnxruntime offers it
    cuda = "CUDAExecutionProvider" in get_available_providers()
    expected_provider = "CUDAExecutionProvider" if cuda else "CPUExecutionProvider"
    assert detector.get_providers()[0] == pose_model.get_providers()[0] == expected_provider
    assert [i.name for i in detector.get_inputs()] == ["images"]
    assert [o.name for o in pose_model.get_outputs()] == ["simcc_x", "simcc_y"]
    photo = np.random.default_rng(0).integers(0, 256, (PHOTO_HEIGHT, PHOTO_WIDTH, 3), dtype=np.uint8)

    boxes = detect_people(np.ascontiguousarray(photo[..., ::-1]), detector)
    keypoints = estimate_keypoints(photo, detector, pose_model)

    assert np.allclose(boxes, [PERSON_BOX], atol=1e-3)
    centre = (PERSON_BOX[:2] + PERSON_BOX[2:]) / 2
    normalise = np.array([PHOTO_WIDTH, PHOTO_HEIGHT])
    assert keypoints.body_seen.all()
    others = np.delete(keypoints.body, LEFT_WRIST_OPENPOSE, axis=0)
    assert np.allclose(others, centre / normalise, atol=1e-6)
    wrist = centre + np.array([72 / 288, 96 / 384]) * CROP_SIZE
    assert np.allclose(keypoints.body[LEFT_WRIST_OPENPOSE], wrist / normalise, atol=1e-6)
    assert np.allclose(keypoints.hands, centre / normalise, atol=1e-6)
    assert np.allclose(keypoints.face, centre / normalise, atol=1e-6)


def test_main_person_extent_is_measured_over_the_first_persons_points():
    """As DWPose: the first person's seen points choose which points measure everyone's extent."""
    points, scores = np.zeros((2, 134, 2)), np.zeros((2, 134))
    # The first person: only the neck and right shoulder seen, far apart (extent 490 x 490, score 2).
    points[0, 1:3], scores[0, 1:3] = [[10, 10], [500, 500]], 1.0
    # The second: every body point seen and spread over 400 x 400, but neck and shoulder 1 pixel apart.
    points[1, 1:14] = np.linspace(100, 500, 13)[:, None]
    points[1, 1:3] = [[100, 100], [101, 101]]
    scores[1, 1:14] = 1.0

    assert main_person_index(WholeBodyPoses(points=points, scores=scores)) == 0
    # Measured over its own points the second person would win (13 x 400 x 400 > 2 x 490 x 490), and
    # so it does when listed first.
    assert main_person_index(WholeBodyPoses(points=points[::-1].copy(), scores=scores[::-1].copy())) == 0


def test_the_runners_person_check_is_the_yolox_box_not_the_points(tmp_path):
    """A garment photo is worn when the detector keeps a person; with no box the pose model still
    reads the whole photo and scores points, which must not make it worn."""
    from tryon.engines.fashn_vton.pose_source import DWPOSE, open_pose_source

    onnx.save(tiny_detector(), tmp_path / DETECTOR_FILE)
    onnx.save(tiny_pose_model(), tmp_path / POSE_MODEL_FILE)
    photo = np.zeros((PHOTO_HEIGHT, PHOTO_WIDTH, 3), np.uint8)
    source = open_pose_source(tmp_path, cuda_host=False)
    assert source.name == DWPOSE and source.finds_person(photo)

    nobody = tmp_path / "nobody"
    nobody.mkdir()
    onnx.save(constant_graph_model("images", [1, 3, 640, 640], {"output": np.zeros((1, 8400, 85), np.float32)}), nobody / DETECTOR_FILE)
    onnx.save(tiny_pose_model(), nobody / POSE_MODEL_FILE)
    nobody_source = open_pose_source(nobody, cuda_host=False)
    assert nobody_source.estimate(photo).body_seen.sum() >= 6 and not nobody_source.finds_person(photo)
