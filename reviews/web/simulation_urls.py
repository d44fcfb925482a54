"""The policy team's simulation pages."""

from django.urls import path

from reviews.web import simulation_views

urlpatterns = [
    path("policy/simulations/", simulation_views.simulations, name="simulations"),
    path(
        "policy/simulations/<int:simulation_id>/",
        simulation_views.simulation,
        name="simulation",
    ),
    path(
        "policy/simulations/<int:simulation_id>.csv",
        simulation_views.simulation_csv,
        name="simulation_csv",
    ),
]
