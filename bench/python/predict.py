"""Cold start as a user would run it: load a joblib model, predict one
sentence, print label and probability."""
import sys

import joblib

model = joblib.load(sys.argv[1])
text = sys.argv[2]
proba = model.predict_proba([text])[0]
best = proba.argmax()
print(f"{model.classes_[best]}\t{proba[best]:.4f}")
