from django.http import HttpResponse
from django.urls import path

from ocen_registry.urls import urlpatterns as registry_urlpatterns


def trivial(request):
    """The yardstick: Django's full middleware stack, no database, a tiny body."""
    return HttpResponse(b'{"ok":true}', content_type="application/json")


urlpatterns = [path("bench/trivial", trivial), *registry_urlpatterns]
