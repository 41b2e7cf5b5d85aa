"""Unsigned ``/_sim`` endpoints that tests and demos use to read and steer the venue."""

from __future__ import annotations

import json
from decimal import Decimal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel

from tradewarden.bot.venue_sim import errors, streams, views
from tradewarden.bot.venue_sim.context import CONTEXT_KEY
from tradewarden.bot.venue_sim.faults import FaultSpec

_FAULT_PLAN = TypeAdapter(list[FaultSpec])


class PriceUpdate(BaseModel):
    """Body of POST /_sim/price."""

    model_config = ConfigDict(extra="forbid")

    symbol: str
    price: Decimal = Field(gt=0, allow_inf_nan=False)


class WalkUpdate(BaseModel):
    """Body of POST /_sim/walk."""

    model_config = ConfigDict(extra="forbid")

    paused: bool


class StreamsUpdate(BaseModel):
    """Body of POST /_sim/streams."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel)

    drop: bool = True
    refuse_seconds: float = Field(0.0, ge=0)
    refuse_count: int = Field(0, ge=0)


class UserDataUpdate(BaseModel):
    """Body of POST /_sim/userdata."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel)

    drop: bool = True
    expire_key: bool = False
    refuse_seconds: float = Field(0.0, ge=0)
    refuse_count: int = Field(0, ge=0)
    validity_seconds: float | None = Field(None, gt=0)


def _error(error: errors.VenueError) -> web.Response:
    return web.json_response(error.body(), status=error.status)


async def _json_body(request: web.Request) -> object:
    try:
        return json.loads(await request.read())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise errors.VenueError(-1100, "Request body is not valid JSON.") from None


def _invalid(exc: ValidationError) -> errors.VenueError:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return errors.VenueError(-1102, f"Invalid '{where}': {first['msg']}")


async def get_state(request: web.Request) -> web.Response:
    """GET /_sim/state: every order, algo order, position, balance, fill, request count, mark."""
    ctx = request.app[CONTEXT_KEY]
    engine = ctx.engine
    engine.settle_funding()
    return web.json_response(
        views.sim_state(
            engine.orders(), engine.algo_orders(), engine.snapshot(), engine.fills(), ctx.requests
        )
    )


async def post_price(request: web.Request) -> web.Response:
    """POST /_sim/price: set a mark price and run the matching it causes."""
    ctx = request.app[CONTEXT_KEY]
    try:
        update = PriceUpdate.model_validate(await _json_body(request))
        mark = ctx.engine.set_mark(update.symbol.upper(), update.price)
    except ValidationError as exc:
        return _error(_invalid(exc))
    except errors.VenueError as exc:
        return _error(exc)
    return web.json_response({"symbol": update.symbol.upper(), "markPrice": views.fmt(mark)})


async def post_walk(request: web.Request) -> web.Response:
    """POST /_sim/walk: pause or resume the random walk of mark prices."""
    ctx = request.app[CONTEXT_KEY]
    try:
        update = WalkUpdate.model_validate(await _json_body(request))
    except ValidationError as exc:
        return _error(_invalid(exc))
    except errors.VenueError as exc:
        return _error(exc)
    ctx.walk_paused = update.paused
    return web.json_response({"paused": ctx.walk_paused})


async def post_faults(request: web.Request) -> web.Response:
    """POST /_sim/faults: replace the fault plan with the posted list."""
    ctx = request.app[CONTEXT_KEY]
    try:
        plan = _FAULT_PLAN.validate_python(await _json_body(request))
    except ValidationError as exc:
        return _error(_invalid(exc))
    except errors.VenueError as exc:
        return _error(exc)
    ctx.faults.replace(plan)
    return web.json_response(ctx.faults.describe())


async def get_faults(request: web.Request) -> web.Response:
    """GET /_sim/faults: the plan with what is left of each fault."""
    return web.json_response(request.app[CONTEXT_KEY].faults.describe())


async def delete_faults(request: web.Request) -> web.Response:
    """DELETE /_sim/faults: remove every fault."""
    request.app[CONTEXT_KEY].faults.clear()
    return web.json_response([])


async def get_streams(request: web.Request) -> web.Response:
    """GET /_sim/streams: open market stream connections, their subscriptions, the refusal plan."""
    return web.json_response(request.app[streams.HUB_KEY].describe())


async def post_streams(request: web.Request) -> web.Response:
    """POST /_sim/streams: drop every market stream and refuse new ones for a while."""
    hub = request.app[streams.HUB_KEY]
    try:
        update = StreamsUpdate.model_validate(await _json_body(request))
    except ValidationError as exc:
        return _error(_invalid(exc))
    except errors.VenueError as exc:
        return _error(exc)
    hub.refuse(update.refuse_seconds, update.refuse_count)
    dropped = await hub.drop() if update.drop else 0
    return web.json_response({"dropped": dropped, **hub.describe()})


async def post_user_data(request: web.Request) -> web.Response:
    """POST /_sim/userdata: the user-data faults (drop, stale key, refusals, key validity)."""
    user_data = request.app[CONTEXT_KEY].user_data
    try:
        update = UserDataUpdate.model_validate(await _json_body(request))
    except ValidationError as exc:
        return _error(_invalid(exc))
    except errors.VenueError as exc:
        return _error(exc)
    if update.validity_seconds is not None:
        user_data.keys.validity_s = update.validity_seconds
    if update.expire_key:
        user_data.expire_now()
    user_data.refuse(update.refuse_seconds, update.refuse_count)
    dropped = await user_data.drop() if update.drop else 0
    return web.json_response({"dropped": dropped, **user_data.describe()})


async def get_user_data(request: web.Request) -> web.Response:
    """GET /_sim/userdata: sockets, events pushed, the listenKey's state."""
    return web.json_response(request.app[CONTEXT_KEY].user_data.describe())


def add_routes(app: web.Application) -> None:
    """Register the /_sim endpoints."""
    app.router.add_get("/_sim/state", get_state)
    app.router.add_post("/_sim/price", post_price)
    app.router.add_post("/_sim/walk", post_walk)
    app.router.add_post("/_sim/faults", post_faults)
    app.router.add_get("/_sim/faults", get_faults)
    app.router.add_delete("/_sim/faults", delete_faults)
    app.router.add_get("/_sim/streams", get_streams)
    app.router.add_post("/_sim/streams", post_streams)
    app.router.add_post("/_sim/userdata", post_user_data)
    app.router.add_get("/_sim/userdata", get_user_data)
