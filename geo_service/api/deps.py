"""Dependencies every router shares: the store, the settings, the response format and language.

They do no I/O, so they are `async`: FastAPI then runs them on the event loop instead of handing
each one to the thread pool.
"""

from typing import Annotated, Literal

from fastapi import Depends, Query, Request

from ..errors import InvalidParameter
from ..settings import Settings
from ..store import Store

Lang = Literal["vi", "en"]


async def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_lang(
    request: Request,
    lang: Annotated[
        Lang | None, Query(description="vi or en (default: Accept-Language, then vi)")
    ] = None,
) -> Lang:
    if lang:
        return lang
    accepted = request.headers.get("accept-language", "").lower()
    return "en" if accepted.startswith("en") else "vi"


def output_format(allowed: tuple[str, ...], html: bool = False):
    """A dependency choosing the response format from `f=` or the Accept header.

    JSON is the default; HTML only when asked for explicitly (`f=html`, or Accept preferring
    text/html) and only where the endpoint has an HTML view.
    """

    async def negotiate(
        request: Request,
        f: Annotated[
            str | None, Query(description=f"response format: {', '.join(allowed)}")
        ] = None,
    ) -> str:
        if f is not None:
            if f not in allowed:
                raise InvalidParameter(
                    f"f={f!r} is not offered here; use one of: {', '.join(allowed)}"
                )
            return f
        accept = request.headers.get("accept", "")
        if html and "html" in allowed and accept.startswith("text/html"):
            return "html"
        return allowed[0]

    return negotiate


LangDep = Annotated[Lang, Depends(get_lang)]
