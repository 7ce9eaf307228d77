"""Forms of the collection pages: they validate; accounts.services does the writes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from accounts.models import Role
from ingestion.models import Collection


class CollectionCreateForm(forms.Form):
    slug = forms.SlugField(max_length=64, help_text="Short name used in the API, e.g. hr-policies")
    name = forms.CharField(max_length=200)

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"].lower()
        if Collection.objects.filter(slug=slug).exists():
            raise forms.ValidationError("A collection with this slug exists already.")
        return slug


class CollectionRenameForm(forms.Form):
    name = forms.CharField(max_length=200)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class MemberAddForm(RoleForm):
    """A user (by username) or a group (by name), exactly one, with a role."""

    username = forms.CharField(max_length=150, required=False)
    group = forms.CharField(max_length=150, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        username, group = data.get("username", "").strip(), data.get("group", "").strip()
        if bool(username) == bool(group):
            raise forms.ValidationError("Give a username or a group name (one of them).")
        if username:
            data["user_object"] = get_user_model().objects.filter(username=username, is_active=True).first()
            if data["user_object"] is None:
                raise forms.ValidationError(f"No active user named {username!r}.")
        else:
            data["group_object"] = Group.objects.filter(name=group).first()
            if data["group_object"] is None:
                raise forms.ValidationError(f"No group named {group!r}.")
        return data
