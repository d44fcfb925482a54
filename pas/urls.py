"""FHIR routes, mounted at /fhir/."""

from django.urls import path, re_path

from pas import smart, views

urlpatterns = [
    path("metadata", views.MetadataApi.as_view(), name="fhir-metadata"),
    path(
        ".well-known/smart-configuration",
        smart.SmartConfigurationView.as_view(),
        name="fhir-smart-configuration",
    ),
    path("auth/token", smart.TokenView.as_view(), name="fhir-smart-token"),
    path("Claim/$submit", views.ClaimSubmitApi.as_view(), name="fhir-claim-submit"),
    path("Claim/$inquire", views.ClaimInquireApi.as_view(), name="fhir-claim-inquire"),
    path("Questionnaire", views.QuestionnaireListApi.as_view(), name="fhir-questionnaire-list"),
    path(
        "Questionnaire/<str:questionnaire_id>",
        views.QuestionnaireDetailApi.as_view(),
        name="fhir-questionnaire",
    ),
    path("Subscription", views.SubscriptionCreateApi.as_view(), name="fhir-subscription-create"),
    path(
        "Subscription/<str:subscription_id>/$status",
        views.SubscriptionStatusApi.as_view(),
        name="fhir-subscription-status",
    ),
    path(
        "Subscription/<str:subscription_id>",
        views.SubscriptionDetailApi.as_view(),
        name="fhir-subscription",
    ),
    # Last: every other address under /fhir/ is a 404 OperationOutcome, in JSON or XML as asked.
    re_path(r"^(?P<url>.*)$", views.NotFoundApi.as_view(), name="fhir-not-found"),
]
