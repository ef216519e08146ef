"""Domain errors. Each message is written for the person who sent the photos."""


class TryOnError(Exception):
    """Base class: the request or the job cannot go on, for a reason a user can act on."""


class InvalidImage(TryOnError):
    """An upload is not an image the service accepts (type, size, dimensions, corrupt bytes)."""


class InvalidOption(TryOnError):
    """A request's options do not go together (e.g. a quality for a lossless format): a 400."""


class NoPersonFound(TryOnError):
    """The person photo shows nobody the pipeline can dress."""


class GarmentNotFound(TryOnError):
    """The garment cannot be separated from the background of its product photo."""
