"""The sign-in page: Django's LoginView with the username's length checked before anything else.

Django's AuthenticationForm sets the username field's max_length after the field is built, so
the length is only an HTML attribute and an over-long name reaches authenticate(), django-axes
and the audit trail (whose columns hold 255 characters): a server error. Here the length is
validated first, so a name longer than the user model allows is a 400 that stores nothing.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.validators import MaxLengthValidator


class SignInForm(AuthenticationForm):
    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        limit = get_user_model()._meta.get_field(get_user_model().USERNAME_FIELD).max_length
        self.fields["username"].validators.append(MaxLengthValidator(limit))


class SignInView(LoginView):
    form_class = SignInForm
    template_name = "registration/login.html"

    def form_invalid(self, form):
        response = super().form_invalid(form)
        # A malformed field (not wrong credentials) is a bad request.
        if form.has_error("username") or form.has_error("password"):
            response.status_code = 400
        return response
