from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

admin.site.site_header = "OCEN Registry"
admin.site.site_title = "OCEN Registry"
admin.site.index_title = "Participant registry"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
]
