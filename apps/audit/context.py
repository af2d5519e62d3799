from contextvars import ContextVar

# Set per HTTP request by RequestIdMiddleware and per job by the Celery task;
# read by the domain layer when it writes audit events.
request_id_var: ContextVar[str] = ContextVar("memoryweb_request_id", default="")
