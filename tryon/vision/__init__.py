"""Image science the engines share, engine-neutral: below the engines, above the model store.

- ``body``: the wearer's points as every engine adapts its pose model's to (``BodyPoints``);
- ``cutout``: a flat-lay garment told from its backdrop;
- ``garments``: which category a garment photo shows (flat-lay shape, worn keypoints and silhouette);
- ``zones``: where a worn garment of a category can be, and the geometric garment mask;
- ``prompts``: point prompts for Segment Anything from the wearer's keypoints;
- ``masks``: small mask helpers.
"""
