# Sourced by compare.sh and scaling.sh: writes the experiment YAML of one run on the reference's synthetic data
# (batch 4096, k = 10, MLP 400-400-400 by the zoo defaults, Adam 1e-3, dropout 0, one epoch in file order).
#   experiment_yaml FILE MODEL TRAIN TEST CACHE_DIR [THREADS]
experiment_yaml() {
  cat > "$1" <<YAML
dataset:
  train: $3
  test: $4
  format: criteo
  schema: $root/examples/schemas/criteo_synthetic.yaml
  cache_dir: $5
model:
  name: $2
  embedding_dim: 10
training:
  epochs: 1
  batch_size: 4096
  eval_batch_size: 16384
  optimizer: adam
  learning_rate: 0.001
  shuffle: false
  patience: 0
  reduce_lr_patience: 0
  threads: ${6:-0}
YAML
}
