"""Image science the engines share, engine-neutral: below the engines, above the model store.

- ``body``: the wearer's points as every engine adapts its pose model's to (``BodyPoints``);
- ``cutout``: a flat-lay garment told from its backdrop;
- ``garments``: which category a garment photo shows (flat-lay shape, worn keypoints and silhouette);
- ``zones``: where a worn garment of a category can be, and the geometric garment mask;
- ``prompts``: point prompts for Segment Anything from the wearer's keypoints;
- ``masks``: small mask helpers;
- ``keypoints``: whole-body keypoints in OpenPose's order (``Keypoints``), read by ``dwpose`` (DWPose on
  onnxruntime) or ``mediapipe_keypoints`` (mediapipe's bundled models, and mediapipe Pose's landmark
  indices both engines read);
- ``canvas``: photos fitted onto a model's canvas and back; ``agnostic``: the clothing-agnostic person
  and masked garment (FASHN Human Parser labels);
- ``batching``: rows with a JSON header for a batchable runner API, batches halved when the GPU runs
  out of memory;
- ``composite``: a model's picture put back onto the person photo at the photo's own size, only where
  it changed it.

Nothing here imports torch, diffusers or transformers at import time: the API process imports it.
"""
