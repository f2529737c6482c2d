package org.fslspark.bench;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.fslspark.algorithm.Algorithm;
import org.fslspark.algorithm.Algorithms;
import org.fslspark.algorithm.Batch;
import org.fslspark.algorithm.Client;
import org.fslspark.algorithm.Learner;
import org.fslspark.algorithm.Server;
import org.fslspark.algorithm.ServerLink;
import org.fslspark.algorithm.SmashedBatch;
import org.fslspark.config.Experiment;
import org.fslspark.config.ExperimentLoader;
import org.fslspark.data.LabeledImages;
import org.fslspark.data.PartitionStore;
import org.fslspark.metrics.RoundRecord;
import org.fslspark.model.ModelZoo;
import org.fslspark.model.SplitModel;
import org.fslspark.runtime.FederatedTraining;
import org.fslspark.runtime.PrepareJob;
import org.fslspark.runtime.Sparks;
import org.nd4j.linalg.api.ndarray.INDArray;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.File;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;

/**
 * What Spark costs a round: SplitFed-V2 (client-by-client order) run by the real runtime, against
 * the same minibatches through the same algorithm calls in one thread, without Spark, sockets or
 * frames. Prints figures, asserts nothing.
 */
@Command(name = "spark-overhead", mixinStandardHelpOptions = true,
        description = "Round time of SplitFed-V2 on Spark (barrier stage, TCP channel) against the same work in-process.")
public final class SparkOverhead implements Callable<Integer> {
    @Option(names = "--rounds", description = "Rounds (default: ${DEFAULT-VALUE}); the first is a warm-up.")
    int rounds = 4;
    @Option(names = "--subset", description = "Training samples over the four institutes (default: ${DEFAULT-VALUE}).")
    int subset = 8000;

    @Override
    public Integer call() throws Exception {
        java.nio.file.Path dir = Files.createTempDirectory("fsl-overhead");
        Experiment e = ExperimentLoader.load(new File("conf/quickstart.conf"), List.of("algorithm=splitfed-v2",
                "train.server-order=client-by-client", "train.rounds=" + rounds, "data.train-subset=" + subset,
                "data.location=\"" + dir.resolve("data") + "\"", "output=\"" + dir.resolve("out") + "\""));
        PrepareJob.run(e, true, null);
        SparkSession spark = Sparks.session(e);
        List<RoundRecord> onSpark;
        try {
            onSpark = FederatedTraining.run(e, spark, true, r -> { }).rounds();
        } finally {
            spark.stop();
        }
        double[] inProcess = inProcess(e);
        System.out.printf(Locale.ROOT, "%nSplitFed-V2, fmnist_cnn, 4 institutes, %d samples, batch %d; %d cores%n", subset,
                e.train().batchSize(), Runtime.getRuntime().availableProcessors());
        System.out.println("| round | on Spark (s) | in-process (s) | overhead (s) | ratio |");
        System.out.println("| --- | --- | --- | --- | --- |");
        for (int t = 0; t < rounds; t++) {
            double s = onSpark.get(t).roundSeconds();
            System.out.printf(Locale.ROOT, "| %d%s | %.2f | %.2f | %.2f | %.2f |%n", t, t == 0 ? " (warm-up)" : "", s,
                    inProcess[t], s - inProcess[t], s / inProcess[t]);
        }
        return 0;
    }

    /** The same rounds in one thread: clients in order, each minibatch straight into the server's step. */
    private static double[] inProcess(Experiment e) {
        Algorithm algorithm = Algorithms.byName(e.algorithm(), e.settings());
        SplitModel initial = ModelZoo.split(e.model(), e.seed());
        Learner shared = new Learner(ModelZoo.split(e.model(), e.seed()).server(), e.train().serverOptimizer().toUpdater());
        shared.network().setParams(initial.server().params());
        Server server = new Server(shared, c -> shared, c -> null, c -> null, c -> null);
        List<LabeledImages> data = new ArrayList<>();
        List<Client> clients = new ArrayList<>();
        for (int i = 0; i < e.institutes().size(); i++) {
            String institute = e.institutes().get(i);
            data.add(PartitionStore.read(new Configuration(), new Path(e.data().locationOf(institute)), institute));
            clients.add(new Client(i, new Learner(ModelZoo.split(e.model(), e.seed()).client(),
                    e.train().optimizer().toUpdater()), null, null));
        }
        ServerLink direct = new ServerLink() {
            @Override
            public INDArray exchange(SmashedBatch batch) {
                return algorithm.serverStep(server, batch);
            }

            @Override
            public void upload(SmashedBatch batch) {
                algorithm.serverStep(server, batch);
            }
        };
        INDArray global = initial.client().params().dup();
        double[] seconds = new double[e.train().rounds()];
        for (int t = 0; t < seconds.length; t++) {
            long start = System.nanoTime();
            List<INDArray> updated = new ArrayList<>();
            for (Client client : clients) {
                client.model().network().setParams(global);
                LabeledImages d = data.get(client.id());
                Integer[] order = new Integer[d.size()];
                Arrays.setAll(order, k -> k);
                java.util.Collections.shuffle(Arrays.asList(order), new Random(t * 31L + client.id()));
                long k = 0;
                for (int b = 0; b < d.size(); b += e.train().batchSize()) {
                    int[] idx = Arrays.stream(order, b, Math.min(d.size(), b + e.train().batchSize())).mapToInt(x -> x).toArray();
                    algorithm.clientStep(client, new Batch(d.features(idx), d.labels(idx)), k++, direct);
                }
                updated.add(client.model().network().params().dup());
            }
            global = updated.get(0);
            for (int i = 1; i < updated.size(); i++) {
                global.addi(updated.get(i));
            }
            global.divi(updated.size());
            seconds[t] = (System.nanoTime() - start) / 1e9;
        }
        return seconds;
    }
}
