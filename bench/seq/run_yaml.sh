# Sourced by quality.sh and compare.sh: the run config of one model on split_time.py's split in OUT/data, with the
# settings every run here shares: batch 256, Adam 1e-3, early stop with patience 1 on valid AUC.
#   seq_yaml FILE OUT SCHEMA CACHE_DIR SEED EPOCHS THREADS MODEL_LINES
seq_yaml() {
  cat > "$1" <<YAML
dataset:
  train: $2/data/train.csv
  valid: $2/data/valid.csv
  test: $2/data/test.csv
  format: csv
  schema: $3
  cache_dir: $4
model:
$8
training:
  epochs: $6
  batch_size: 256
  optimizer: adam
  learning_rate: 0.001
  seed: $5
  patience: 1
  monitor: auc
  threads: $7
YAML
}
