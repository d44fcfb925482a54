"""The reviewers' pages: sign-in, queue, case, actions, letters, dashboard."""

from django.contrib.auth import views as auth_views
from django.urls import path

from reviews.web import views
from reviews.web.signin import SignInView

urlpatterns = [
    path(
        "accounts/login/",
        SignInView.as_view(),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.queue, name="queue"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("requests/<int:request_id>/", views.case, name="case"),
    path("requests/<int:request_id>/claim/", views.claim, name="claim"),
    path("requests/<int:request_id>/release/", views.release, name="release"),
    path("requests/<int:request_id>/actions/<slug:name>/", views.action, name="action"),
    path(
        "requests/<int:request_id>/letters/<int:determination_id>/",
        views.letter,
        name="letter",
    ),
    path(
        "requests/<int:request_id>/letters/<int:determination_id>.pdf",
        views.letter_download,
        name="letter_pdf",
    ),
]
