package org.fslspark.runtime;

import org.fslspark.metrics.HadoopFiles;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.fslspark.algorithm.Batch;
import org.fslspark.config.Experiment;
import org.fslspark.config.OptimizerSpec;
import org.fslspark.metrics.HadoopFiles;
import org.fslspark.model.ModelZoo;
import org.fslspark.model.SplitModel;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code debug.trace}: what an independent implementation of ALGORITHMS.md needs to replay a run
 * step for step (bench/oracle.py reads it): {@code trace.json} (the settings), {@code initial.f32}
 * (x_c then x_s) and {@code auxiliary.f32} (the seeded a_i), each client's data
 * ({@code client-<i>.features.f32}, {@code .labels.i32}, written by the client's own task) and
 * sample order per local epoch ({@code round-<t>/client-<i>-epoch-<e>.order.i32}; minibatches are
 * consecutive runs of {@code batch_size}), and after every round the global model
 * ({@code round-<t>/global.f32}), CSE-FSL's averaged auxiliary model ({@code round-<t>/auxiliary.f32})
 * and the auxiliary models FSL-SAGE aligned at the round's start ({@code round-<t>/aligned-<i>.f32}).
 * Arrays are little-endian float32 or int32, flat.
 */
final class Trace {
    private Trace() {
    }

    /** What a run starts from: the settings, x_c then x_s, and the seeded auxiliary model. */
    static void start(Experiment e, Configuration conf, SplitModel initial) {
        INDArray auxiliary = ModelZoo.auxiliary(e.model(), e.settings().auxiliary(), e.settings().auxiliaryHidden(),
                e.seed()).params();
        settings(e, conf, initial, auxiliary.length());
        floats(e.trace(), "initial.f32", conf, Nd4j.hstack(initial.client().params(), initial.server().params()));
        floats(e.trace(), "auxiliary.f32", conf, auxiliary);
    }

    /** The settings an oracle needs, as JSON. */
    private static void settings(Experiment e, Configuration conf, SplitModel model, long auxiliaryParams) {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("algorithm", e.algorithm());
        s.put("model", Map.of("name", e.model().name(), "cut", ModelZoo.cut(e.model()),
                "input_shape", e.model().inputShape(),
                "classes", e.model().classes(), "client_params", model.client().numParams(),
                "server_params", model.server().numParams()));
        s.put("institutes", e.institutes());
        s.put("rounds", e.train().rounds());
        s.put("local_epochs", e.train().localEpochs());
        s.put("batch_size", e.train().batchSize());
        s.put("weights", e.train().uniformWeights() ? "uniform" : "samples");
        s.put("server_order", e.train().serverOrder().name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'));
        s.put("optimizer", optimizer(e.train().optimizer()));
        s.put("server_optimizer", optimizer(e.train().serverOptimizer()));
        s.put("server_interval", e.settings().serverInterval());
        s.put("auxiliary", Map.of("model", e.settings().auxiliary(), "hidden", e.settings().auxiliaryHidden(),
                "params", auxiliaryParams));
        s.put("alignment", Map.of("interval", e.settings().alignInterval(), "capacity", e.settings().bufferCapacity(),
                "epochs", e.settings().alignEpochs(), "batch_size", e.settings().alignBatchSize(),
                "optimizer", optimizer(e.settings().alignOptimizer()), "epsilon", e.settings().epsilon()));
        s.put("warm_start", e.settings().warmStart());
        try {
            write(e.trace(), "trace.json", conf, new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsBytes(s));
        } catch (com.fasterxml.jackson.core.JsonProcessingException ex) {
            throw new IllegalStateException(ex);
        }
    }

    private static Map<String, Object> optimizer(OptimizerSpec o) {
        return Map.of("name", o.name(), "learning_rate", o.learningRate(), "momentum", o.momentum());
    }

    static void floats(String dir, String name, Configuration conf, INDArray values) {
        float[] v = values.reshape(values.length()).toFloatVector();
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        write(dir, name, conf, b.array());
    }

    static void ints(String dir, String name, Configuration conf, int[] values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asIntBuffer().put(values);
        write(dir, name, conf, b.array());
    }

    /** A client's whole training set as its task sees it (features scaled as in training), from that task. */
    static void clientData(RoundPlan plan, int client, SiteData data) {
        Configuration conf = SiteData.hadoopConf(plan.hadoopConf());
        int[] all = new int[data.size()];
        for (int i = 0; i < all.length; i++) {
            all[i] = i;
        }
        Batch b = data.batch(all);
        floats(plan.trace(), "client-" + client + ".features.f32", conf, b.features());
        ints(plan.trace(), "client-" + client + ".labels.i32", conf, b.labels());
    }

    /** The order of a client's samples in one local epoch. */
    static void order(RoundPlan plan, int client, int epoch, int[][] batches) {
        int[] order = java.util.Arrays.stream(batches).flatMapToInt(java.util.Arrays::stream).toArray();
        ints(plan.trace(), "round-" + plan.round() + "/client-" + client + "-epoch-" + epoch + ".order.i32",
                SiteData.hadoopConf(plan.hadoopConf()), order);
    }

    /**
     * After round {@code t}: the global model, the averaged auxiliary model (CSE-FSL, else null) and the
     * auxiliary models aligned at the round's start (FSL-SAGE), by client.
     */
    static void round(String dir, Configuration conf, int t, INDArray client, INDArray server, INDArray averagedAuxiliary,
                      Map<Integer, INDArray> aligned) {
        floats(dir, "round-" + t + "/global.f32", conf, Nd4j.hstack(client, server));
        if (averagedAuxiliary != null) {
            floats(dir, "round-" + t + "/auxiliary.f32", conf, averagedAuxiliary);
        }
        aligned.forEach((i, a) -> floats(dir, "round-" + t + "/aligned-" + i + ".f32", conf, a));
    }

    private static void write(String dir, String name, Configuration conf, byte[] bytes) {
        Path path = new Path(dir, name);
        try {
            HadoopFiles.write(path.getFileSystem(conf), path, bytes);
        } catch (IOException ex) {
            throw new UncheckedIOException("cannot write the trace file " + path + ": " + ex.getMessage(), ex);
        }
    }
}
