"""The OpenAI-compatible endpoints (chat.openai_compat) described in the project's OpenAPI schema.

They are plain Django views, not ninja operations: their errors and their authentication answer
in OpenAI's shape (`{"error": {"message", "type"}}`), which the official clients parse, so they
stay outside the ninja router. `openai_paths_add` writes what they accept and return into the
schema that /api/v1/docs shows, from the models below, under their real paths (/v1/...).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

REF_TEMPLATE = "#/components/schemas/{model}"
TAG = "OpenAI-compatible"


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class ChatCompletionIn(BaseModel):
    model: str = Field("default", description="a collection slug (GET /v1/models lists yours)")
    messages: list[ChatMessage] = Field(..., description="the last user message is the question; earlier "
                                        "user/assistant pairs are the history (the last three count)")
    stream: bool = Field(False, description="true answers with server-sent `chat.completion.chunk` events, then `[DONE]`")
    backend: str | None = Field(None, description="Footnote's extension, staff only: openai | local | extractive "
                                "(default: the configured one); anyone else who names a backend gets 400")


class OpenAICitation(BaseModel):
    n: int
    chunk_id: int
    document_id: int
    filename: str
    page: int | None
    quote: str


class FootnoteInfo(BaseModel):
    answer_id: int
    backend: str
    abstained: bool
    notice: str


class ChoiceMessage(BaseModel):
    role: Literal["assistant"]
    content: str


class Choice(BaseModel):
    index: int
    message: ChoiceMessage
    finish_reason: Literal["stop"]


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletionOut(BaseModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    citations: list[OpenAICitation] = Field(..., description="the answer's [n] markers (an extra field; on the "
                                            "last chunk when streaming)")
    footnote: FootnoteInfo


class ModelOut(BaseModel):
    id: str = Field(..., description="the collection's slug")
    object: Literal["model"]
    created: int
    owned_by: str


class ModelListOut(BaseModel):
    object: Literal["list"]
    data: list[ModelOut]


class OpenAIErrorBody(BaseModel):
    message: str
    type: str


class OpenAIError(BaseModel):
    error: OpenAIErrorBody


def _ref(model: type[BaseModel], components: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": REF_TEMPLATE.format(model=model.__name__)}


def _json(ref: dict[str, str], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def openai_paths_add(schema: dict[str, Any]) -> dict[str, Any]:
    """Add /v1/chat/completions and /v1/models (and their bodies) to an OpenAPI `schema`."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error = _ref(OpenAIError, components)
    security: list[dict[str, list[str]]] = [{"BearerAuth": []}]
    schema.setdefault("components", {}).setdefault("securitySchemes", {}).setdefault(
        "BearerAuth", {"type": "http", "scheme": "bearer"})
    errors = {
        "400": _json(error, "the body is not JSON with `model` and `messages`, or the question is too long"),
        "401": _json(error, "no valid Footnote API token as the bearer key"),
        "404": _json(error, "no such model (a collection you may not read is answered the same)"),
        "429": _json(error, "a rate limit or the daily token budget (Retry-After)"),
    }
    schema.setdefault("paths", {})["/v1/chat/completions"] = {"post": {
        "tags": [TAG], "operationId": "openai_chat_completions", "security": security,
        "summary": "Ask a question the OpenAI way (the official clients work with base_url=<host>/v1)",
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(ChatCompletionIn, components)}}},
        "responses": {
            "200": {"description": "the answer; `text/event-stream` of chunks when `stream` is true",
                    "content": {"application/json": {"schema": _ref(ChatCompletionOut, components)},
                                "text/event-stream": {"schema": {"type": "string"}}}},
            **errors,
        },
    }}
    schema["paths"]["/v1/models"] = {"get": {
        "tags": [TAG], "operationId": "openai_models", "security": security,
        "summary": "The collections you may read, as models",
        "responses": {"200": _json(_ref(ModelListOut, components), "one model per readable collection"),
                      "401": errors["401"]},
    }}
    return schema
