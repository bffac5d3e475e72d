"""The schema (/openapi.json) and the interactive docs (/docs), behind the token like the rest."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse

router = APIRouter(include_in_schema=False)


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs", include_in_schema=False)
def docs(request: Request):
    return get_swagger_ui_html(openapi_url="/openapi.json", title=request.app.title + " - docs")
