from django.urls import path

from apps.dashboard.views import (
    activity,
    browser,
    conversation,
    entities,
    graph,
    maps,
    memory,
    review,
    timeline,
    tokens,
)

app_name = "dashboard"

urlpatterns = [
    path("switch/", browser.switch, name="switch"),
    path("s/<slug:slug>/", browser.browse, name="browse"),
    path("s/<slug:slug>/bulk/", browser.bulk, name="bulk"),
    path("s/<slug:slug>/bulk/undo/", browser.undo, name="undo"),
    path("s/<slug:slug>/memories/<uuid:memory_id>/", memory.detail, name="memory"),
    path("s/<slug:slug>/memories/<uuid:memory_id>/edit/", memory.edit, name="memory_edit"),
    path("s/<slug:slug>/memories/<uuid:memory_id>/status/", memory.status, name="memory_status"),
    path(
        "s/<slug:slug>/memories/<uuid:memory_id>/versions/",
        memory.versions,
        name="memory_versions",
    ),
    path("s/<slug:slug>/memories/<uuid:memory_id>/revert/", memory.revert, name="memory_revert"),
    path("s/<slug:slug>/memories/<uuid:memory_id>/purge/", memory.purge, name="memory_purge"),
    path(
        "s/<slug:slug>/memories/<uuid:memory_id>/unsupersede/",
        memory.unsupersede,
        name="memory_unsupersede",
    ),
    path("s/<slug:slug>/sessions/", conversation.sessions, name="sessions"),
    path("s/<slug:slug>/entities/", entities.entities, name="entities"),
    path("s/<slug:slug>/entities/<uuid:entity_id>/", entities.entity, name="entity"),
    path("s/<slug:slug>/sessions/<path:session>/", conversation.session, name="session"),
    path("s/<slug:slug>/episodes/<uuid:episode_id>/", conversation.episode, name="episode"),
    path("s/<slug:slug>/timeline/", timeline.timeline_page, name="timeline"),
    path("s/<slug:slug>/graph/", graph.graph, name="graph"),
    path("s/<slug:slug>/map/", maps.embedding_map, name="map"),
    path("s/<slug:slug>/map/project/", maps.project, name="map_project"),
    path(
        "s/<slug:slug>/map/<int:projection_id>/points/<int:ordinal>/",
        maps.point,
        name="map_point",
    ),
    path(
        "s/<slug:slug>/map/<int:projection_id>/selection/",
        maps.selection,
        name="map_selection",
    ),
    path("s/<slug:slug>/review/", review.queue, name="review"),
    path("s/<slug:slug>/review/run/", review.run, name="review_run"),
    path("s/<slug:slug>/review/approve/", review.approve_many, name="review_approve_many"),
    path("s/<slug:slug>/review/<int:proposal_id>/approve/", review.approve, name="review_approve"),
    path("s/<slug:slug>/review/<int:proposal_id>/reject/", review.reject, name="review_reject"),
    path("s/<slug:slug>/review/<int:proposal_id>/undo/", review.undo, name="review_undo"),
    path("s/<slug:slug>/audit/", activity.audit, name="audit"),
    path("s/<slug:slug>/jobs/", activity.jobs, name="jobs"),
    path("s/<slug:slug>/jobs/<int:job_id>/", activity.job, name="job"),
    path("s/<slug:slug>/tokens/", tokens.tokens, name="tokens"),
    path("s/<slug:slug>/tokens/<int:token_id>/revoke/", tokens.revoke, name="token_revoke"),
]
