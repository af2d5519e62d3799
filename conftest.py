import os

# The suite runs against the test profile's embedded services (var/test, own ports)
# unless DATABASE_URL / CELERY_BROKER_URL point elsewhere.
os.environ.setdefault("MEMORYWEB_PROFILE", "test")
