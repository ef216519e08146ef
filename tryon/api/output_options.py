"""The output fields of a request (#26): how the result pictures are encoded."""

from __future__ import annotations

from ..errors import InvalidOption


def output_options(output_format: str, output_quality: int | None) -> dict[str, str | int]:
    """The job options for ``output_format`` (png, jpeg or webp, already validated) and
    ``output_quality`` (1-100 or None); none for the default PNG.

    Raises ``InvalidOption`` (a 400) for a quality with png, rather than ignoring it: PNG is
    lossless, so the client expected a lossy format and a file a fraction of the size.
    """
    if output_format == "png":
        if output_quality is not None:
            raise InvalidOption(
                "output_quality applies to output_format jpeg or webp only; png is lossless "
                "(leave output_quality out, or choose jpeg or webp)."
            )
        return {}
    options: dict[str, str | int] = {"output_format": output_format}
    if output_quality is not None:
        options["output_quality"] = output_quality
    return options
