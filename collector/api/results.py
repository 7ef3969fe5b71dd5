"""``POST /api/v1/results``: the agents' only door, exactly as the wire contract says."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status
from starlette.requests import ClientDisconnect

from ..loop_commit import LoopIngest
from ..wire import WireError, decode_batch, encode_answer
from .deps import agent_principal, principal_from

router = APIRouter(prefix="/api/v1", tags=["agents"])
#: where agents post; served by ``results_door.ResultsDoor`` ahead of FastAPI's routing
RESULTS_PATH = "/api/v1/results"

# the bodies are msgspec structs (``wire``): their schemas are put into the document's
# components by ``app._document_wire_contract``
_BODY_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchIn"}}},
    }
}
_ACCEPTED = {
    "description": "stored, or already stored (``duplicate``)",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchAccepted"}}},
}


async def _read_limited(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body over {limit} bytes")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body over {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:  # nobody left to answer: nothing stored, no traceback in the log
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the client hung up mid-body") from None
    return b"".join(chunks)


@router.post(
    "/results",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=_BODY_SCHEMA,
    responses={
        202: _ACCEPTED,
        401: {"description": "no or unknown token"},
        403: {"description": "the token is not bound to this host"},
        413: {"description": "body over the limit"},
        422: {"description": "malformed; the message names the field"},
        429: {"description": "too many failed authentications from this address"},
        503: {"description": "database unavailable; retry later"},
    },
)
async def post_results(request: Request) -> Response:
    """Store a batch of results (empty: a heartbeat). Re-posting a batch_id stores nothing twice."""
    # The agents' door is the collector's busiest: its token check and clock are called
    # here rather than as FastAPI dependencies, and its answer is encoded here rather than
    # through FastAPI's response model: each step cost a request about as much as
    # validating ten results (py-spy under wrk, batches of 10).
    principal = await agent_principal(await principal_from(request))
    now = request.app.state.clock()
    settings = request.app.state.settings
    body = await _read_limited(request, settings.max_body_bytes)
    try:
        batch = decode_batch(body)
    except WireError as exc:
        detail = [{"field": p.location or "body", "message": p.message} for p in exc.problems]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from None
    if batch.host != principal.host_name:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"this token is bound to host {principal.host_name!r}, not {batch.host!r}",
        )

    ingest: LoopIngest = request.app.state.ingest
    accepted = await ingest.store(principal, batch, now)
    return Response(
        encode_answer(accepted), status_code=status.HTTP_202_ACCEPTED, media_type="application/json"
    )
