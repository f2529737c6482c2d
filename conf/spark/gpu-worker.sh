# Standalone GPU workers: add to $SPARK_HOME/conf/spark-env.sh on each GPU node before starting its
# worker. A worker reads spark.worker.resource.* when it starts (in an application's properties they
# do nothing) and gives each executor it launches GPU addresses of its own, so executors on one node
# never share a GPU. The discovery script prints this node's GPUs (CUDA_VISIBLE_DEVICES, else nvidia-smi).
# Set the amount to the node's GPU count; a worker may instead name its GPUs in a resources file
# (spark.worker.resourcesFile, as `jobs/testbed start --gpus N` does with emulated ones).
SPARK_WORKER_OPTS="$SPARK_WORKER_OPTS -Dspark.worker.resource.gpu.amount=2 -Dspark.worker.resource.gpu.discoveryScript=/opt/fsl-spark/conf/spark/gpu-discovery.sh"
