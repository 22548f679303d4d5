"""The usual way to serve a model: FastAPI + uvicorn around the
scikit-learn pipeline loaded with joblib. The anchor of `just bench-serve`
(bench/serve.py); same request and response shape as model-server's
POST /v1/predict. MODEL_PATH names the joblib file."""
import os

import joblib
from fastapi import FastAPI
from pydantic import BaseModel

MODEL = joblib.load(os.environ["MODEL_PATH"])
app = FastAPI()


class PredictRequest(BaseModel):
    texts: list[str]
    probabilities: bool = False


@app.post("/v1/predict")
def predict(request: PredictRequest):
    probs = MODEL.predict_proba(request.texts)
    labels = list(MODEL.classes_)
    predictions = []
    for row in probs:
        best = int(row.argmax())
        predictions.append({"label": labels[best], "probability": float(row[best])})
    return {"model": {"name": "default", "version": "1.0.0", "alias": "production"}, "predictions": predictions}


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
