"""Photo evidence: the pure pipeline (photos.py), where files live (storage.py), the Photo
record and how any record holds photos (models.photo_links, registry.PHOTO_OWNERS)."""

from flask import Flask

from evidence import views
from evidence.labels import FLAGS
from i18n.language import label

DEFAULTS = {
    # Where originals and derived images are kept, the largest upload, and the CJK font burnt
    # into watermarks (installed by make run / make test).
    "PHOTO_STORAGE_DIR": None,  # default: <instance>/photos
    # Or a bucket of S3-compatible object storage shared by every server (evidence/s3.py);
    # credentials come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).
    "PHOTO_S3_BUCKET": None,
    "PHOTO_S3_ENDPOINT_URL": None,
    "PHOTO_S3_PREFIX": "",
    "PHOTO_S3_REGION": None,
    "PHOTO_MAX_BYTES": 20 * 1024 * 1024,
    # Photos of the public (the complaint form) decoded at once per process, and how long one
    # waits for its turn before the form answers 503 "try again shortly".
    "ANONYMOUS_PHOTO_DECODES": 2,
    "ANONYMOUS_PHOTO_WAIT_S": 2.0,
    "WATERMARK_FONT": "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
}


def init_app(app: Flask) -> None:
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    app.register_blueprint(views.bp)
    app.jinja_env.globals["photo_url"] = views.photo_url
    app.jinja_env.filters["flag_label"] = label(FLAGS)
