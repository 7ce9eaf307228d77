"""Collection pages: staff create, rename and archive collections; staff and managers manage members."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.auth import user_of
from accounts.forms import CollectionCreateForm, CollectionRenameForm, MemberAddForm, RoleForm
from accounts.models import CollectionMembership, Role
from accounts.services import membership_remove, membership_set
from ingestion.access import access_collection, collection_role, collections_managed, collections_readable
from ingestion.services import collection_add, collection_archive_set, collection_rename


def _staff_only(request: HttpRequest) -> None:
    if not request.user.is_staff:
        raise PermissionDenied("Only staff create, rename and archive collections.")


@login_required
def collections_page(request: HttpRequest) -> HttpResponse:
    form = CollectionCreateForm(request.POST or None)
    if request.method == "POST":
        _staff_only(request)
        if form.is_valid():
            collection = collection_add(slug=form.cleaned_data["slug"], name=form.cleaned_data["name"], actor=user_of(request))
            messages.success(request, f"Created {collection.name}.")
            return redirect("collection", slug=collection.slug)
    readable = [(c, collection_role(request.user, c)) for c in collections_readable(request.user)]
    return render(request, "accounts/collections.html", {
        "readable": readable, "managed": collections_managed(request.user), "form": form,
    })


@login_required
def collection_page(request: HttpRequest, slug: str) -> HttpResponse:
    collection = access_collection(request.user, slug, role=Role.MANAGER, archived=True)
    memberships = CollectionMembership.objects.filter(collection=collection).select_related("user", "group")
    return render(request, "accounts/collection.html", {
        "collection": collection, "memberships": memberships, "roles": Role.choices,
    })


@login_required
@require_POST
def collection_settings(request: HttpRequest, slug: str) -> HttpResponse:
    _staff_only(request)
    collection = access_collection(request.user, slug, role=Role.MANAGER, archived=True)
    if "archive" in request.POST or "restore" in request.POST:
        collection_archive_set(collection=collection, archived="archive" in request.POST, actor=user_of(request))
        messages.success(request, f"{collection.name} {'archived' if collection.archived_at else 'restored'}.")
    else:
        form = CollectionRenameForm(request.POST)
        if form.is_valid():
            collection_rename(collection=collection, name=form.cleaned_data["name"], actor=user_of(request))
            messages.success(request, f"Renamed to {collection.name}.")
    return redirect("collection", slug=collection.slug)


@login_required
@require_POST
def member_add(request: HttpRequest, slug: str) -> HttpResponse:
    collection = access_collection(request.user, slug, role=Role.MANAGER, archived=True)
    form = MemberAddForm(request.POST)
    if form.is_valid():
        membership = membership_set(
            collection=collection, role=form.cleaned_data["role"], actor=user_of(request),
            user=form.cleaned_data.get("user_object"), group=form.cleaned_data.get("group_object"),
        )
        messages.success(request, f"{membership.user or membership.group} is now {membership.role}.")
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect("collection", slug=collection.slug)


@login_required
@require_POST
def member_change(request: HttpRequest, slug: str, membership_id: int) -> HttpResponse:
    collection = access_collection(request.user, slug, role=Role.MANAGER, archived=True)
    membership = get_object_or_404(CollectionMembership, pk=membership_id, collection=collection)
    who = membership.user or membership.group
    if "remove" in request.POST:
        membership_remove(membership=membership, actor=user_of(request))
        messages.success(request, f"Removed {who}.")
        return redirect("collection", slug=collection.slug)
    form = RoleForm(request.POST)
    if form.is_valid():
        membership_set(
            collection=collection, role=form.cleaned_data["role"], actor=user_of(request),
            user=membership.user, group=membership.group,
        )
        messages.success(request, f"{who} is now {form.cleaned_data['role']}.")
    return redirect("collection", slug=collection.slug)
