"""The OpenAPI 3.1 description of the JSON API, served at /api/v1/openapi.json."""

from customers.models import Network, Tier
from inbox.mentions import MAX_ID_LENGTH, MAX_NAME_LENGTH, MAX_PROFILE_URL_LENGTH, MAX_URL_LENGTH
from socialcrm.payloads import MAX_FOLLOWERS, MAX_TEXT_LENGTH


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _optional(schema: dict, *, or_empty: bool = False) -> dict:
    """A field that may be left out or sent as null (or, with `or_empty`, as ""), which all mean the same."""
    if or_empty:
        return {"anyOf": [schema, {"const": ""}, {"type": "null"}]}
    return {**schema, "type": [schema["type"], "null"]} if "type" in schema else {"anyOf": [schema, {"type": "null"}]}


# What the parser refuses, said as patterns: a NUL anywhere; an id that is only whitespace (str.isspace's).
_WHITESPACE = "".join(f"\\u{code:04x}" for code in range(0x10000) if chr(code).isspace())
_NO_NUL = "^[^\\u0000]*$"
_NOT_BLANK = f"^[^\\u0000]*[^\\u0000{_WHITESPACE}][^\\u0000]*$"


def _text(max_length: int, **more) -> dict:
    return {"type": "string", "maxLength": max_length, "pattern": _NO_NUL, **more}


_HTTP_URL = {"type": "string", "format": "uri", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://"}

MENTION = {
    "type": "object",
    "required": ["external_id", "text", "author"],
    "properties": {
        "external_id": {
            "type": "string",
            "maxLength": MAX_ID_LENGTH,
            "pattern": _NOT_BLANK,
            "description": "The network's id; a mention delivered again with the same id is a duplicate.",
        },
        "text": _text(MAX_TEXT_LENGTH, minLength=1, description="Stored as text."),
        "author": {
            "type": "object",
            "required": ["external_id"],
            "properties": {
                "external_id": _text(MAX_ID_LENGTH, minLength=1),
                "handle": _optional(_text(MAX_NAME_LENGTH)),
                "name": _optional(_text(MAX_NAME_LENGTH)),
                "followers": _optional({"type": "integer", "minimum": 0, "maximum": MAX_FOLLOWERS}),
                "verified": _optional({"type": "boolean"}),
                "email": _optional({"type": "string", "format": "email", "maxLength": 254}, or_empty=True),
                "profile_url": _optional({**_HTTP_URL, "maxLength": MAX_PROFILE_URL_LENGTH}, or_empty=True),
            },
        },
        "url": _optional({**_HTTP_URL, "maxLength": MAX_URL_LENGTH, "description": "http(s) only."}, or_empty=True),
        "posted_at": _optional(
            {
                "type": "string",
                "format": "date-time",
                "description": "ISO 8601; without an offset it is UTC; absent means now; "
                "before 1990 or more than an hour ahead is refused.",
            },
            or_empty=True,
        ),
        "in_reply_to": _optional(
            _text(
                MAX_ID_LENGTH,
                description="The external id of the mention this replies to. An unknown id is kept but does not "
                "thread.",
            )
        ),
        "private": _optional(
            {"type": "boolean", "default": False, "description": "A direct message rather than a public post."}
        ),
    },
    "description": "Strings must not contain NUL characters or unpaired surrogates. An optional field sent as "
    "null or an empty string is as if it were left out. Unknown fields are kept in the stored raw payload and "
    "otherwise ignored.",
}

OPENAPI = {
    "openapi": "3.1.0",
    "info": {
        "title": "socialcrm API",
        "version": "1",
        "description": "Send mentions from any source into a channel's inbox, and read messages back.",
    },
    "servers": [{"url": "/"}],
    "components": {
        "securitySchemes": {
            "channelToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "The channel's token from `manage.py add_channel` (or `--rotate` for a new one).",
            },
            "session": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
        },
        "schemas": {
            "Mention": MENTION,
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {"type": "string"},
                    "errors": {
                        "type": "object",
                        "description": "Per mention index (as a string), the problems of each field.",
                        "additionalProperties": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                },
            },
            "Accepted": {
                "type": "object",
                "required": ["accepted", "duplicates", "messages"],
                "properties": {
                    "accepted": {"type": "integer"},
                    "duplicates": {"type": "integer"},
                    "messages": {
                        "type": "array",
                        "description": "One entry per mention sent, in order; duplicates point at the stored message.",
                        "items": {
                            "type": "object",
                            "required": ["external_id", "id", "conversation_id"],
                            "properties": {
                                "external_id": {"type": "string"},
                                "id": {"type": "integer"},
                                "conversation_id": {"type": "integer"},
                                "duplicate": {"type": "boolean"},
                            },
                        },
                    },
                },
            },
            "Message": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "external_id": {"type": ["string", "null"]},
                    "channel": {"type": "string"},
                    "direction": {"enum": ["in", "out"]},
                    "private": {"type": "boolean"},
                    "text": {"type": "string"},
                    "url": {"type": "string"},
                    "posted_at": {"type": "string", "format": "date-time"},
                    "received_at": {"type": "string", "format": "date-time"},
                    "in_reply_to": {"type": ["string", "null"]},
                    "author": {"type": ["object", "null"]},
                    "conversation": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "status": {"enum": ["new", "open", "pending", "snoozed", "resolved"]},
                            "queue": {"type": ["string", "null"]},
                        },
                    },
                    "triage_state": {"enum": ["queued", "waiting", "triaged", "skipped"]},
                    "triage": {"type": ["object", "null"], "description": "Present once the message is triaged."},
                },
            },
        },
    },
    "paths": {
        "/api/v1/channels/{slug}/mentions": {
            "post": {
                "summary": "Ingest one mention or a batch of 1 to 1,000 (all or nothing)",
                "security": [{"channelToken": []}],
                "parameters": [
                    {
                        "name": "slug",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$", "maxLength": 50},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "oneOf": [
                                    {"$ref": "#/components/schemas/Mention"},
                                    {
                                        "type": "object",
                                        "required": ["mentions"],
                                        "properties": {
                                            "mentions": {
                                                "type": "array",
                                                "minItems": 1,
                                                "maxItems": 1000,
                                                "items": {"$ref": "#/components/schemas/Mention"},
                                            }
                                        },
                                    },
                                ]
                            }
                        }
                    },
                },
                "responses": {
                    "202": {
                        "description": "Stored (or already stored); triage follows.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}},
                    },
                    "400": _error("Malformed JSON or invalid mentions; nothing was stored."),
                    "401": _error("Missing or wrong token, or no channel with that slug (the two look alike)."),
                    "403": _error("The channel is deactivated; nothing was stored."),
                    "404": _error("No such route: the slug has characters no slug has."),
                    "413": _error("The body is over 5 MB."),
                    "415": _error("The body is not JSON."),
                    "429": {
                        **_error("Over the channel's rate limit."),
                        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}},
                    },
                },
            }
        },
        "/api/v1/messages/{id}": {
            "get": {
                "summary": "One message with its conversation's status and its triage result",
                "security": [{"channelToken": []}, {"session": []}],
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {
                    "200": {
                        "description": "The message.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Message"}}},
                    },
                    "401": _error("Neither a channel token nor a session."),
                    "404": _error("No such message, or not yours to see."),
                },
            }
        },
        "/api/v1/triage/preview": {
            "post": {
                "summary": "What triage would decide for 1 to 1,000 texts, in order; stores nothing",
                "security": [{"triageToken": []}, {"session": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["items"],
                                "properties": {
                                    "items": {
                                        "type": "array",
                                        "minItems": 1,
                                        "maxItems": 1000,
                                        "items": {"$ref": "#/components/schemas/PreviewItem"},
                                    }
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "One decision per item, in the order sent.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Decision"}}
                                    },
                                }
                            }
                        },
                    },
                    "400": _error("Malformed JSON, or invalid items (listed by index in 'errors')."),
                    "401": _error("No session and no valid triage token."),
                    "403": _error("Signed in, but not a manager or admin (or the CSRF check failed)."),
                    "413": _error("The body is over 5 MB."),
                    "415": _error("The body is not JSON."),
                    "429": {
                        **_error("Over 30 previews a minute for this token or user."),
                        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}},
                    },
                },
            }
        },
    },
}

OPENAPI["components"]["schemas"]["PreviewItem"] = {
    "type": "object",
    "required": ["text"],
    "properties": {
        "text": {
            "type": "string",
            "maxLength": MAX_TEXT_LENGTH,
            "description": "May be empty. All of a request's texts together: at most 250,000 characters.",
        },
        "network": _optional({"enum": [*Network.values, ""]}),
        "private": _optional({"type": "boolean", "default": False}),
        "author": _optional(
            {
                "type": "object",
                "properties": {
                    "followers": _optional({"type": "integer", "minimum": 0, "maximum": MAX_FOLLOWERS}),
                    "verified": _optional({"type": "boolean"}),
                    "tier": _optional({"enum": [*Tier.values, ""]}),
                },
            }
        ),
    },
    "description": "An optional field sent as null is as if it were left out.",
}
OPENAPI["components"]["schemas"]["Decision"] = {
    "type": "object",
    "properties": {
        "type": {"enum": ["question", "complaint", "compliment", "feedback", "lead", "other"]},
        "sentiment": {"enum": ["negative", "neutral", "positive"]},
        "sentiment_score": {"type": "number", "minimum": -1, "maximum": 1},
        "language": {"type": "string", "description": "ISO 639-1, or empty when unknown."},
        "influence": {"type": "number", "minimum": 0, "maximum": 1},
        "influence_band": {"enum": ["low", "medium", "high"]},
        "action_needed": {"type": "boolean"},
        "priority": {"enum": ["low", "normal", "high", "urgent"]},
        "queue": {"type": ["string", "null"], "description": "The queue's slug."},
        "rule": {"type": ["string", "null"], "description": "The routing rule that decided, if any."},
        "labels": {"type": "array", "items": {"type": "string"}},
        "explanation": {"type": "string"},
        "model_version": {"type": "string", "description": "e.g. 'type:3 queue:5 sentiment:2'."},
    },
}
OPENAPI["components"]["securitySchemes"]["triageToken"] = {
    "type": "http",
    "scheme": "bearer",
    "description": "From `manage.py add_api_token --scope triage`.",
}
