from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from apps.api.views.administration import SpacesViewSet, TokenViewSet
from apps.api.views.consolidation import ConsolidateViewSet, ProposalViewSet
from apps.api.views.conversation import EpisodeViewSet, RecallViewSet, SearchViewSet
from apps.api.views.memories import MemoryViewSet
from apps.api.views.relations import AuditViewSet, EntityViewSet, GraphViewSet, LinkViewSet
from apps.api.views.transfer import ExportViewSet, ImportViewSet

router = SimpleRouter(trailing_slash=False)
router.register("memories", MemoryViewSet, basename="memory")
router.register("episodes", EpisodeViewSet, basename="episode")
router.register("search", SearchViewSet, basename="search")
router.register("recalls", RecallViewSet, basename="recall")
router.register("links", LinkViewSet, basename="link")
router.register("entities", EntityViewSet, basename="entity")
router.register("graph", GraphViewSet, basename="graph")
router.register("proposals", ProposalViewSet, basename="proposal")
router.register("consolidate", ConsolidateViewSet, basename="consolidate")
router.register("audit", AuditViewSet, basename="audit")
router.register("spaces", SpacesViewSet, basename="space")
router.register("tokens", TokenViewSet, basename="token")
router.register("export", ExportViewSet, basename="export")
router.register("import", ImportViewSet, basename="import")

urlpatterns = [
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
