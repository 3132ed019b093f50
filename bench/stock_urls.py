from django.urls import path
from oauth2_provider.views import TokenView

from bench.urls import trivial

urlpatterns = [path("bench/trivial", trivial), path("stock/token", TokenView.as_view())]
