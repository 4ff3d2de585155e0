"""Data pages: tournament exports (public) and the staff import forms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render

from arena.api_data import export_response, upload_bytes
from arena.models import PromptSet, Tournament
from arena.services.exports import UnknownExport, tournament_export
from arena.services.imports import (
    MAX_UPLOAD_BYTES,
    prompt_set_import_file,
    responses_import_file,
)

UPLOAD_HELP = f"JSONL or CSV (UTF-8), at most {MAX_UPLOAD_BYTES // 2**20} MB."


class _UploadForm(forms.Form):
    file = forms.FileField(help_text=UPLOAD_HELP)

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        try:
            # Read here so an oversized file is refused before it is loaded.
            self.cleaned_data["data"] = upload_bytes(upload)
        except ValidationError as error:
            raise forms.ValidationError(error.message_dict["file"]) from None
        return upload


class AnswersImportForm(_UploadForm):
    prompt_set = forms.ModelChoiceField(queryset=PromptSet.objects.all())
    model = forms.CharField(
        max_length=100,
        required=False,
        help_text="The model whose answers the file holds (rows: question_id, text). "
        "Empty: each row names its model (rows: model, question_id, text).",
    )
    field_order = ["prompt_set", "model", "file"]


class PromptsImportForm(_UploadForm):
    name = forms.CharField(max_length=100, help_text="A new prompt set's name.")
    source = forms.CharField(max_length=300, required=False)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    field_order = ["name", "source", "description", "file"]


def _add_errors(form: forms.Form, error: ValidationError) -> None:
    for name, messages in error.message_dict.items():
        form.add_error(name if name in form.fields else None, messages)


def _render(request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
    status = 400 if context["form"].errors else 200
    return render(request, "arena/data/import.html", context, status=status)


def data_export(request: HttpRequest, tournament_id: int, kind: str) -> HttpResponseBase:
    tournament = get_object_or_404(Tournament, pk=tournament_id)
    try:
        export = tournament_export(tournament=tournament, kind=kind)
    except UnknownExport as error:
        raise Http404(str(error)) from None
    return export_response(request, export)


@staff_member_required
def data_import_answers(request: HttpRequest) -> HttpResponse:
    form = AnswersImportForm(request.POST or None, request.FILES or None)
    context: dict[str, Any] = {"form": form, "title": "Import pre-generated answers"}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            done = responses_import_file(
                prompt_set=data["prompt_set"],
                data=data["data"],
                filename=data["file"].name,
                model=data["model"],
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            context["answers"] = {"prompt_set": data["prompt_set"], "done": done}
            context["form"] = AnswersImportForm()
    return _render(request, context)


@staff_member_required
def data_import_prompts(request: HttpRequest) -> HttpResponse:
    form = PromptsImportForm(request.POST or None, request.FILES or None)
    context: dict[str, Any] = {"form": form, "title": "Import a prompt set"}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            pset = prompt_set_import_file(
                name=data["name"],
                data=data["data"],
                filename=data["file"].name,
                source=data["source"],
                description=data["description"],
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            context["prompts"] = {"prompt_set": pset, "count": pset.prompts.count()}
            context["form"] = PromptsImportForm()
    return _render(request, context)
