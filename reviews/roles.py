"""Role groups. Created on demand so a fresh or flushed database always has them."""

from django.contrib.auth.models import Group

from reviews.models import Role

USER_ROLES = (Role.PROVIDER, Role.NURSE, Role.PHYSICIAN, Role.AUDITOR, Role.ADMIN)


def ensure_role_groups() -> dict[str, Group]:
    return {role.value: Group.objects.get_or_create(name=role.value)[0] for role in USER_ROLES}


def user_create(*, username: str, password: str, role: str, organization=None, **extra):
    """Create a user in one role (the admin role also gets Django admin access)."""
    from reviews.models import User

    groups = ensure_role_groups()
    user = User.objects.create_user(
        username=username,
        password=password,
        organization=organization,
        is_staff=role == Role.ADMIN,
        is_superuser=role == Role.ADMIN,
        **extra,
    )
    user.groups.add(groups[role])
    return user
