"""A FastAPI service that serves whatever version `production` names, and
switches to a newly promoted one without a restart or a dropped request.

    MODELREG_DIR=registry MODELREG_MODEL=sentiment-sklearn uvicorn service:app --app-dir examples/python
"""

import os

from fastapi import FastAPI
from pydantic import BaseModel

import modelreg

registry = modelreg.Registry(os.environ.get("MODELREG_DIR", "registry"), model=os.environ.get("MODELREG_MODEL"))
production = registry.follow("production", poll_seconds=float(os.environ.get("MODELREG_POLL", "1.0")))
app = FastAPI()


class Texts(BaseModel):
    texts: list[str]


@app.post("/predict")
def predict(body: Texts):
    served = production.current  # one read: model and metadata of the same version
    return {"version": served.version, "labels": [str(label) for label in served.model.predict(body.texts)]}


@app.get("/health")
def health():
    return {"version": production.version, "last_error": str(production.last_error or "") or None}
