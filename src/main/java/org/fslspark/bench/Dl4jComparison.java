package org.fslspark.bench;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.spark.api.RDDTrainingApproach;
import org.deeplearning4j.spark.api.Repartition;
import org.deeplearning4j.spark.impl.multilayer.SparkDl4jMultiLayer;
import org.deeplearning4j.spark.impl.paramavg.ParameterAveragingTrainingMaster;
import org.fslspark.config.Experiment;
import org.fslspark.config.ExperimentLoader;
import org.fslspark.data.LabeledImages;
import org.fslspark.data.PartitionStore;
import org.fslspark.metrics.RoundRecord;
import org.fslspark.runtime.FederatedTraining;
import org.fslspark.runtime.PrepareJob;
import org.fslspark.runtime.Sparks;
import org.nd4j.evaluation.classification.Evaluation;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.File;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.IntStream;

/**
 * Our FedAvg against DL4J-Spark's own parameter averaging (ParameterAveragingTrainingMaster,
 * averaging once per local epoch) on the same Fashion-MNIST CNN, data and IID partition: test
 * accuracy and round time side by side. IID, because DL4J averages its workers unweighted while
 * FedAvg weights by sample count: with equal shares the two rules coincide. Prints figures.
 */
@Command(name = "dl4j-fedavg", mixinStandardHelpOptions = true,
        description = "FedAvg (fsl-spark) against DL4J-Spark's ParameterAveragingTrainingMaster on the same model, data and partition.")
public final class Dl4jComparison implements Callable<Integer> {
    @Option(names = "--rounds", description = "Rounds, one local epoch each (default: ${DEFAULT-VALUE}).")
    int rounds = 3;
    @Option(names = "--subset", description = "Training samples over the four institutes (default: ${DEFAULT-VALUE}).")
    int subset = 4000;

    @Override
    public Integer call() throws Exception {
        java.nio.file.Path dir = Files.createTempDirectory("fsl-dl4j");
        Experiment e = ExperimentLoader.load(new File("conf/quickstart.conf"), List.of("algorithm=fedavg",
                "data.partition.scheme=iid", "train.local-epochs=1", "train.rounds=" + rounds,
                "data.train-subset=" + subset, "data.location=\"" + dir.resolve("data") + "\"",
                "output=\"" + dir.resolve("out") + "\""));
        PrepareJob.run(e, true, null);
        SparkSession spark = Sparks.session(e);
        List<RoundRecord> ours;
        double[][] theirs;
        try {
            ours = FederatedTraining.run(e, spark, true, r -> { }).rounds();
            theirs = dl4j(e, new JavaSparkContext(spark.sparkContext()));
        } finally {
            spark.stop();
        }
        System.out.printf(Locale.ROOT, "%nFedAvg, fmnist_cnn, 4 institutes, IID, %d samples, batch %d, %s; %d cores%n",
                subset, e.train().batchSize(), e.train().optimizer().name() + " " + e.train().optimizer().learningRate(), Runtime.getRuntime().availableProcessors());
        System.out.println("| round | fsl-spark accuracy | fsl-spark seconds | DL4J-Spark accuracy | DL4J-Spark seconds |");
        System.out.println("| --- | --- | --- | --- | --- |");
        for (int t = 0; t < rounds; t++) {
            System.out.printf(Locale.ROOT, "| %d | %.4f | %.1f | %.4f | %.1f |%n", t, ours.get(t).testAccuracy(),
                    ours.get(t).roundSeconds(), theirs[t][0], theirs[t][1]);
        }
        return 0;
    }

    /** Per round {test accuracy, seconds of the training epoch}. */
    private static double[][] dl4j(Experiment e, JavaSparkContext sc) {
        int batch = e.train().batchSize();
        List<String> institutes = e.institutes();
        List<String> locations = institutes.stream().map(i -> e.data().locationOf(i)).toList();
        // Partition i is institute i's share, read inside its own task as in the runtime.
        JavaRDD<DataSet> train = sc.parallelize(IntStream.range(0, institutes.size()).boxed().toList(), institutes.size())
                .mapPartitions(ids -> {
                    List<DataSet> out = new ArrayList<>();
                    while (ids.hasNext()) {
                        int i = ids.next();
                        out.addAll(batches(PartitionStore.read(new Configuration(), new Path(locations.get(i)),
                                institutes.get(i)), batch));
                    }
                    return out.iterator();
                }, true);
        long batchesPerWorker = train.mapPartitions(it -> {
            long n = 0;
            for (; it.hasNext(); it.next()) {
                n++;
            }
            return List.of(n).iterator();
        }).collect().stream().mapToLong(Long::longValue).max().orElseThrow();

        ParameterAveragingTrainingMaster master = new ParameterAveragingTrainingMaster.Builder(institutes.size(), batch)
                .batchSizePerWorker(batch)
                .averagingFrequency((int) batchesPerWorker) // one average per local epoch
                .workerPrefetchNumBatches(0)
                .repartionData(Repartition.Never)
                .rddTrainingApproach(RDDTrainingApproach.Direct)
                .build();
        SparkDl4jMultiLayer net = new SparkDl4jMultiLayer(sc, configuration(e), master);
        LabeledImages test = PartitionStore.readTest(new Configuration(), new Path(e.data().testLocation()));
        double[][] out = new double[e.train().rounds()][];
        for (int t = 0; t < out.length; t++) {
            long start = System.nanoTime();
            net.fit(train);
            double seconds = (System.nanoTime() - start) / 1e9;
            Evaluation eval = new Evaluation(e.data().classes());
            for (DataSet d : batches(test, 500)) {
                eval.eval(d.getLabels(), net.getNetwork().output(d.getFeatures(), false));
            }
            out[t] = new double[]{eval.accuracy(), seconds};
            System.out.printf(Locale.ROOT, "DL4J-Spark round %d  acc %.4f  %.1f s%n", t, eval.accuracy(), seconds);
        }
        return out;
    }

    /** fmnist_cnn (ModelZoo) in DL4J layers. */
    private static MultiLayerConfiguration configuration(Experiment e) {
        long[] shape = e.model().inputShape();
        return new NeuralNetConfiguration.Builder()
                .seed(e.seed())
                .updater(e.train().optimizer().toUpdater())
                .weightInit(WeightInit.RELU)
                .convolutionMode(ConvolutionMode.Same)
                .list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(32).activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build())
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(64).activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build())
                .layer(new DenseLayer.Builder().nOut(128).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(e.data().classes())
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(shape[1], shape[2], shape[0]))
                .build();
    }

    /** Minibatches in a seeded shuffled order, labels one-hot. */
    private static List<DataSet> batches(LabeledImages d, int size) {
        List<Integer> order = new ArrayList<>(IntStream.range(0, d.size()).boxed().toList());
        java.util.Collections.shuffle(order, new java.util.Random(7));
        List<DataSet> out = new ArrayList<>();
        for (int s = 0; s < d.size(); s += size) {
            int[] idx = order.subList(s, Math.min(d.size(), s + size)).stream().mapToInt(Integer::intValue).toArray();
            INDArray labels = Nd4j.zeros(idx.length, d.classes());
            int[] y = d.labels(idx);
            for (int k = 0; k < y.length; k++) {
                labels.putScalar(k, y[k], 1f);
            }
            out.add(new DataSet(d.features(idx), labels));
        }
        return out;
    }
}
