# A Hugging Face base given again as a model, once as its directory and once as its index.
ARGS=(merge --base "$DATA/hf/base/" --model "$DATA/hf/base/model.safetensors.index.json" --output "$OUTPUT")
STATUS=2
EXPECT=("model 1 '$DATA/hf/base/model.safetensors.index.json' is the same checkpoint as base '$DATA/hf/base/'")
