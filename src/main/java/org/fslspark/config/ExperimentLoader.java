package org.fslspark.config;

import com.typesafe.config.Config;
import org.apache.hadoop.conf.Configuration;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueFactory;
import org.fslspark.algorithm.AlgorithmSettings;
import org.fslspark.algorithm.Algorithms;
import org.fslspark.algorithm.ServerOrder;
import org.fslspark.metrics.HadoopFiles;
import org.fslspark.model.Lora;
import org.fslspark.model.ModelInit;
import org.fslspark.model.ModelSpec;
import org.fslspark.model.ModelZoo;
import org.fslspark.text.Tokenizers;
import org.fslspark.testbed.Topology;
import org.fslspark.testbed.TopologyException;
import org.fslspark.testbed.TopologyLoader;
import org.fslspark.transport.Codec;
import org.fslspark.transport.Codecs;
import org.fslspark.transport.Tls;

import java.io.File;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Reads an experiment: built-in defaults, then the config file, then {@code key=value} overrides,
 * checked once here: unknown keys (with the valid ones listed), wrong types and out-of-range values
 * are reported with the key's name.
 */
public final class ExperimentLoader {
    private static final String DEFAULTS = "fsl-defaults.conf";
    /** Keys below these paths are free-form maps. */
    private static final List<String> OPEN_MAPS = List.of("spark.conf");

    private ExperimentLoader() {
    }

    public static Config defaults() {
        return ConfigFactory.parseResources(ExperimentLoader.class, "/" + DEFAULTS,
                ConfigParseOptions.defaults().setAllowMissing(false));
    }

    public static Experiment load(File file, List<String> overrides) {
        return fromLocation(file == null ? null : file.getPath(), overrides);
    }

    /**
     * As {@link #load(File, List)} for a config named by a local path or any Hadoop URI
     * ({@code hdfs://nn/fsl/quickstart.conf}); null means the built-in defaults only.
     */
    public static Experiment fromLocation(String location, List<String> overrides) {
        Config fromFile = location == null ? ConfigFactory.empty() : parseFile(location);
        Config fromCommandLine = parseOverrides(overrides);
        String origin = location == null ? "the built-in defaults" : location;
        checkKeys(fromFile, origin);
        checkKeys(fromCommandLine, "--set");
        Config merged;
        try {
            merged = fromCommandLine.withFallback(fromFile).withFallback(defaults()).resolve();
        } catch (com.typesafe.config.ConfigException e) {
            throw new ConfigException("cannot resolve config: " + e.getMessage(), e);
        }
        return fromConfig(merged);
    }

    private static Config parseFile(String location) {
        String text;
        try {
            text = HadoopFiles.readText(location, new Configuration());
        } catch (java.io.FileNotFoundException e) {
            throw new ConfigException("config file " + e.getMessage(), e);
        }
        try {
            // A local file is parsed from its path so that its relative includes resolve beside it.
            return HadoopFiles.hasScheme(location)
                    ? ConfigFactory.parseString(text, ConfigParseOptions.defaults().setOriginDescription(location))
                    : ConfigFactory.parseFile(new File(location), ConfigParseOptions.defaults().setAllowMissing(false));
        } catch (com.typesafe.config.ConfigException e) {
            throw new ConfigException("cannot parse " + location + ": " + e.getMessage(), e);
        }
    }

    /** Each override is {@code key=value}; the value is read as HOCON, else taken as a plain string (e.g. local[*]). */
    static Config parseOverrides(List<String> overrides) {
        Config c = ConfigFactory.empty();
        for (String o : overrides) {
            int eq = o.indexOf('=');
            if (eq <= 0) {
                throw new ConfigException("override '" + o + "' is not of the form key=value");
            }
            String key = o.substring(0, eq).trim();
            String value = o.substring(eq + 1).trim();
            Config one;
            try {
                one = ConfigFactory.parseString(key + " = " + value);
            } catch (com.typesafe.config.ConfigException e) {
                one = ConfigFactory.empty().withValue(key, ConfigValueFactory.fromAnyRef(value));
            }
            c = one.withFallback(c);
        }
        return c;
    }

    private static void checkKeys(Config given, String origin) {
        Set<String> valid = validKeys();
        Set<String> unknown = new TreeSet<>();
        for (Map.Entry<String, ConfigValue> e : given.entrySet()) {
            String key = e.getKey();
            // model.cut may be a map from institute to cut: its keys are checked against the institutes where it is read.
            if (!valid.contains(key) && OPEN_MAPS.stream().noneMatch(m -> key.startsWith(m + ".")) && !key.startsWith("model.cut.")) {
                unknown.add(key);
            }
        }
        if (!unknown.isEmpty()) {
            throw new ConfigException("unknown config key" + (unknown.size() > 1 ? "s " : " ") + unknown + " in " + origin
                    + "; valid keys: " + String.join(", ", new TreeSet<>(valid)));
        }
    }

    public static Set<String> validKeys() {
        Set<String> keys = new HashSet<>();
        defaults().entrySet().forEach(e -> keys.add(e.getKey()));
        keys.removeIf(k -> OPEN_MAPS.stream().anyMatch(m -> k.startsWith(m + ".")));
        return keys;
    }

    static Experiment fromConfig(Config c) {
        Reader r = new Reader(c);
        String name = r.string("experiment");
        String algorithm = r.oneOf("algorithm", Algorithms.names());
        List<String> institutes = r.strings("institutes");
        if (institutes.isEmpty()) {
            throw new ConfigException("institutes must name at least one institute");
        }
        if (new HashSet<>(institutes).size() != institutes.size()) {
            throw new ConfigException("institutes " + institutes + " names an institute twice");
        }
        for (String i : institutes) {
            if (!i.matches("[a-z0-9][a-z0-9_-]*")) {
                throw new ConfigException("institutes: '" + i + "' is not a site id (lower-case letters, digits, - and _)");
            }
        }
        String format = r.oneOf("data.format", List.of("idx", "cifar", "parquet", "text"));
        boolean text = format.equals("text");
        String modelName = r.oneOf("model.name", ModelZoo.names());
        String tokenizer = r.string("data.tokenizer");
        int context = r.intAtLeast("data.context", 1);
        int classes;
        ModelSpec model;
        if (text) {
            if (!modelName.equals("gpt")) {
                throw new ConfigException("model.name = '" + modelName + "' is an image model, but data.format = text;"
                        + " a language model needs model.name = gpt");
            }
            try {
                classes = Tokenizers.named(tokenizer).vocabSize();
            } catch (IllegalArgumentException e) {
                throw new ConfigException("data.tokenizer: " + e.getMessage(), e);
            }
            int width = r.intAtLeast("model.width", 0);
            model = ModelSpec.gpt(classes, context, width > 0 ? width : ModelZoo.optionDefault("gpt", "width"),
                    r.intAtLeast("model.depth", 1), r.intAtLeast("model.heads", 1), 0);
        } else {
            if (modelName.equals("gpt")) {
                throw new ConfigException("model.name = gpt is a language model; it needs data.format = text, got '"
                        + format + "'");
            }
            List<Long> shape = r.longs("data.input-shape");
            if (shape.size() != 3 || shape.stream().anyMatch(s -> s < 1)) {
                throw new ConfigException("data.input-shape must be [channels, height, width] of positive sizes, got " + shape);
            }
            classes = r.intAtLeast("data.classes", 2);
            model = new ModelSpec(modelName, shape.stream().mapToLong(Long::longValue).toArray(), classes, 0,
                    imageOptions(modelName, r.intAtLeast("model.width", 0)));
        }
        Cuts cuts = cuts(r, model, institutes);
        model = model.withCut(cuts.model());
        try {
            ModelZoo.cut(model);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage(), e);
        }
        ModelInit init = init(r, modelName);
        String scheme = r.oneOf("data.partition.scheme", text ? List.of("iid", "document")
                : List.of("iid", "dirichlet", "column"));
        double alpha = r.c.getDouble("data.partition.alpha");
        if (scheme.equals("dirichlet") && !(alpha > 0)) {
            throw new ConfigException("data.partition.alpha must be > 0, got " + alpha);
        }
        double testFraction = r.c.getDouble("data.test-fraction");
        if (!(testFraction > 0 && testFraction < 1)) {
            throw new ConfigException("data.test-fraction must be in (0, 1), got " + testFraction);
        }
        String delimiter = r.string("data.delimiter");
        if (delimiter.contains("\n")) {
            throw new ConfigException("data.delimiter must be one line, got '" + delimiter + "'");
        }
        String serverSite = r.string("server-site");
        Experiment.Testbed testbed = testbed(r, institutes, serverSite);
        Map<String, String> siteLocations = new LinkedHashMap<>();
        if (testbed.enabled()) {
            for (String i : institutes) {
                String own = testbed.topology().site(i).data();
                if (!own.isBlank()) {
                    siteLocations.put(i, onEveryHost(own));
                }
            }
        }
        Experiment.Data data = new Experiment.Data(r.string("data.dataset"), format,
                r.strings("data.train"), r.strings("data.test"), classes, scheme, alpha,
                r.string("data.partition.column"), r.intAtLeast("data.train-subset", 0), onEveryHost(r.string("data.location")),
                tokenizer, context, delimiter, testFraction, java.util.Collections.unmodifiableMap(siteLocations));
        Experiment.Train train = new Experiment.Train(r.intAtLeast("train.rounds", 1),
                r.intAtLeast("train.local-epochs", 1), r.intAtLeast("train.batch-size", 1),
                r.optimizer("train.optimizer"), r.optimizer("train.server-optimizer"),
                r.oneOf("train.weights", List.of("samples", "uniform")).equals("uniform"),
                ServerOrder.valueOf(r.oneOf("train.server-order", List.of("arrival", "client-by-client"))
                        .toUpperCase(Locale.ROOT).replace('-', '_')),
                r.intAtLeast("train.eval-batch-size", 1));
        double target = r.c.getDouble("stop.target-accuracy");
        if (target < 0 || target > 1) {
            throw new ConfigException("stop.target-accuracy must be in [0, 1], got " + target);
        }
        long budget = r.c.getLong("stop.traffic-budget-bytes");
        if (budget < 0) {
            throw new ConfigException("stop.traffic-budget-bytes must be >= 0, got " + budget);
        }
        Map<String, String> sparkConf = new LinkedHashMap<>();
        r.c.getConfig("spark.conf").entrySet().forEach(e -> sparkConf.put(
                e.getKey().replace("\"", ""), String.valueOf(e.getValue().unwrapped())));
        double epsilon = r.c.getDouble("alignment.epsilon");
        if (!(epsilon > 0)) {
            throw new ConfigException("alignment.epsilon must be > 0, got " + epsilon);
        }
        AlgorithmSettings settings = new AlgorithmSettings(r.intAtLeast("server-interval", 1),
                r.intAtLeast("alignment.interval", 1), r.intAtLeast("alignment.buffer-capacity", 1),
                r.intAtLeast("alignment.epochs", 1), r.intAtLeast("alignment.batch-size", 0),
                r.optimizer("alignment.optimizer"), r.oneOf("auxiliary.model", ModelZoo.AUXILIARY),
                r.intAtLeast("auxiliary.hidden", 1), r.c.getBoolean("warm-start"), epsilon);
        if (settings.auxiliary().equals("block") && !text) {
            throw new ConfigException("auxiliary.model = block is for language models (data.format = text); "
                    + modelName + " takes linear or mlp");
        }
        String trace = r.string("debug.trace").trim();
        if (!trace.isEmpty() && text) {
            throw new ConfigException("debug.trace replays image models only; unset it for data.format = text");
        }
        if (!trace.isEmpty() && !cuts.perInstitute().isEmpty()) {
            throw new ConfigException("debug.trace: bench/oracle.py replays one cut for every institute, but model.cut gives "
                    + "them different cuts; unset debug.trace or give model.cut one value");
        }
        String master = r.string("spark.master");
        return new Experiment(name, r.c.getLong("seed"), algorithm, settings, model, init, cuts.perInstitute(), institutes, serverSite, data, train,
                new Experiment.Stop(budget, target), r.string("output"),
                new Experiment.Spark(master, sparkConf), testbed,
                new Experiment.Checkpointing(r.intAtLeast("checkpoint.interval", 0), r.intAtLeast("checkpoint.keep", 1),
                        r.oneOf("checkpoint.writer", List.of("auto", "executors", "driver"))),
                new Experiment.Faults(r.intAtLeast("fault.round-attempts", 1), faultPoint(r.string("debug.fail"), "debug.fail", true),
                        faultPoint(r.string("debug.nan"), "debug.nan", false), faultPoint(r.string("debug.refuse"), "debug.refuse", false),
                        forgetRound(r.string("debug.forget")),
                        minInstitutes(r, institutes.size()), seconds(r, "fault.site-timeout"), absent(r.string("debug.absent")),
                        r.string("fault.round-timeout").equals("auto") ? Experiment.Faults.AUTO : seconds(r, "fault.round-timeout"),
                        faultPoint(r.string("debug.stall"), "debug.stall", true)),
                trace.isEmpty() ? trace : onEveryHost(trace), security(r, testbed, master), codecs(r),
                c.root().render(ConfigRenderOptions.defaults().setOriginComments(false).setJson(false)));
    }

    /**
     * An image model's options from {@code model.width} (0: the model's default). The default width is left out of
     * the spec, so a run at the default is the same model (and checkpoint) whether or not the key is set.
     */
    private static Map<String, Integer> imageOptions(String model, int width) {
        Integer standard = ModelZoo.optionDefault(model, "width");
        if (width == 0 || (standard != null && width == standard)) {
            return Map.of();
        }
        if (standard == null) {
            throw new ConfigException("model.width = " + width + ": " + model + " has no width (gpt, resnet20 and"
                    + " resnet18 have one); leave it at 0");
        }
        return Map.of("width", width);
    }

    /**
     * model.cut: one cut for every institute (an integer, 0 = the model's default), or a map from institute to cut with an
     * optional {@code default} for the institutes it does not name (docs/CUTS.md). Each cut is checked against the model,
     * a refusal naming the key and the institute.
     */
    private static Cuts cuts(Reader r, ModelSpec model, List<String> institutes) {
        ConfigValue value = r.c.getValue("model.cut");
        if (value.valueType() != com.typesafe.config.ConfigValueType.OBJECT) {
            return new Cuts(r.intAtLeast("model.cut", 0), List.of());
        }
        Set<String> keys = new TreeSet<>(r.c.getConfig("model.cut").root().keySet());
        for (String key : keys) {
            if (!key.equals("default") && !institutes.contains(key)) {
                throw new ConfigException("model.cut." + key + ": '" + key + "' is not an institute (institutes: "
                        + String.join(", ", institutes) + "; or default, for the institutes the map does not name)");
            }
        }
        List<Integer> configured = new ArrayList<>();
        List<Integer> layers = new ArrayList<>();
        for (String institute : institutes) {
            String key = keys.contains(institute) ? institute : "default";
            if (!keys.contains(key)) {
                throw new ConfigException("model.cut names no cut for institute " + institute + " and has no default: give "
                        + "model.cut." + institute + " or model.cut.default (got " + value.render(ConfigRenderOptions.concise()) + ")");
            }
            int cut = r.intAtLeast("model.cut." + key, 0);
            try {
                layers.add(ModelZoo.cut(model.withCut(cut)));
            } catch (IllegalArgumentException e) {
                throw new ConfigException("model.cut." + key + " (institute " + institute + "): " + e.getMessage(), e);
            }
            configured.add(cut);
        }
        if (layers.stream().distinct().count() == 1) {
            return new Cuts(configured.get(0), List.of());
        }
        return new Cuts(configured.get(layers.indexOf(java.util.Collections.min(layers))), List.copyOf(configured));
    }

    /**
     * The model's cut (every institute's, or the shallowest, where the global model is split) and, when institutes
     * cut at different layers, each one's cut in the order of the institutes (else empty).
     */
    private record Cuts(int model, List<Integer> perInstitute) {
    }

    /** transport.*-codec: how activations, gradients and models travel. */
    private static Codecs codecs(Reader r) {
        Codec[] codecs = new Codec[3];
        String[] keys = {"transport.activation-codec", "transport.gradient-codec", "transport.model-codec"};
        for (int i = 0; i < keys.length; i++) {
            try {
                codecs[i] = Codec.parse(r.string(keys[i]));
            } catch (IllegalArgumentException e) {
                throw new ConfigException(keys[i] + ": " + e.getMessage(), e);
            }
        }
        try {
            return new Codecs(codecs[0], codecs[1], codecs[2]);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(keys[2] + ": " + e.getMessage(), e);
        }
    }

    /** A test-only fault point: "client:i:round:t:batch:k", or (where {@code server} is allowed) "server:round:t:batch:n". */
    static Experiment.FaultPoint faultPoint(String value, String key, boolean server) {
        String v = value.trim();
        if (v.isEmpty()) {
            return null;
        }
        java.util.regex.Matcher c = java.util.regex.Pattern.compile("client:(\\d+):round:(\\d+):batch:(\\d+)").matcher(v);
        if (c.matches()) {
            return new Experiment.FaultPoint(Integer.parseInt(c.group(1)), Integer.parseInt(c.group(2)), Long.parseLong(c.group(3)));
        }
        java.util.regex.Matcher s = java.util.regex.Pattern.compile("server:round:(\\d+):batch:(\\d+)").matcher(v);
        if (server && s.matches()) {
            return new Experiment.FaultPoint(-1, Integer.parseInt(s.group(1)), Long.parseLong(s.group(2)));
        }
        throw new ConfigException(key + " = \"" + v + "\": expected \"client:<i>:round:<t>:batch:<k>\""
                + (server ? " or \"server:round:<t>:batch:<n>\"" : "") + " (a test-only fault hook; \"\" = off)");
    }

    /** fault.min-institutes, 0 meaning every institute; at most their number. */
    private static int minInstitutes(Reader r, int institutes) {
        int m = r.intAtLeast("fault.min-institutes", 0);
        if (m > institutes) {
            throw new ConfigException("fault.min-institutes = " + m + " but institutes names only " + institutes
                    + "; allowed: 0 (every institute) to " + institutes);
        }
        return m == 0 ? institutes : m;
    }

    /** A positive duration key in seconds. */
    private static double seconds(Reader r, String key) {
        double s;
        try {
            s = r.c.getDuration(key).toMillis() / 1e3;
        } catch (com.typesafe.config.ConfigException e) {
            throw new ConfigException(key + " must be a duration such as 60s: " + e.getMessage(), e);
        }
        if (!(s > 0)) {
            throw new ConfigException(key + " must be > 0, got " + r.c.getValue(key).unwrapped());
        }
        return s;
    }

    /** The test-only debug.absent: "client:i:round:t", or null when off. */
    static Experiment.FaultPoint absent(String value) {
        String v = value.trim();
        if (v.isEmpty()) {
            return null;
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("client:(\\d+):round:(\\d+)").matcher(v);
        if (!m.matches()) {
            throw new ConfigException("debug.absent = \"" + v + "\": expected \"client:<i>:round:<t>\" (a test-only fault hook; \"\" = off)");
        }
        return new Experiment.FaultPoint(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), -1);
    }

    /** The test-only debug.forget: "round:t", or -1 when off. */
    static int forgetRound(String value) {
        String v = value.trim();
        if (v.isEmpty()) {
            return -1;
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("round:(\\d+)").matcher(v);
        if (!m.matches()) {
            throw new ConfigException("debug.forget = \"" + v + "\": expected \"round:<t>\" (a test-only fault hook; \"\" = off)");
        }
        return Integer.parseInt(m.group(1));
    }

    /**
     * A location that executors read: a relative local path becomes absolute against the driver's
     * working directory, since an executor's working directory is elsewhere (a Spark worker's).
     * Locations with a scheme (file:, hdfs:, ...) and absolute paths stay as they are.
     */
    static String onEveryHost(String location) {
        return HadoopFiles.hasScheme(location) || location.startsWith("/") ? location : new java.io.File(location).getAbsolutePath();
    }

    /** model.init and model.lora: the checkpoint is only named here; the run checks that it matches the model. */
    private static ModelInit init(Reader r, String modelName) {
        String checkpoint = r.string("model.init").trim();
        checkpoint = checkpoint.isEmpty() ? checkpoint : onEveryHost(checkpoint);
        int rank = r.intAtLeast("model.lora.rank", 0);
        if (rank == 0) {
            return new ModelInit(checkpoint, Lora.OFF);
        }
        double alpha = r.c.getDouble("model.lora.alpha");
        if (!(alpha > 0)) {
            throw new ConfigException("model.lora.alpha must be > 0, got " + alpha);
        }
        List<String> projections = r.strings("model.lora.projections");
        if (projections.isEmpty()) {
            throw new ConfigException("model.lora.projections must name at least one of " + Lora.PROJECTIONS
                    + " when model.lora.rank > 0");
        }
        List<String> unknown = projections.stream().filter(p -> !Lora.PROJECTIONS.contains(p)).toList();
        if (!unknown.isEmpty()) {
            throw new ConfigException("model.lora.projections: " + unknown + " not among " + Lora.PROJECTIONS);
        }
        if (new HashSet<>(projections).size() != projections.size()) {
            throw new ConfigException("model.lora.projections " + projections + " names a projection twice");
        }
        if (!modelName.equals("gpt")) {
            throw new ConfigException("model.lora.rank = " + rank + ": LoRA adapts the gpt's projections; "
                    + modelName + " has none (set model.lora.rank = 0)");
        }
        if (checkpoint.isEmpty()) {
            throw new ConfigException("model.lora.rank = " + rank + " needs model.init: the checkpoint whose frozen"
                    + " weights the adapters adapt (a pre-training run's <output>/model)");
        }
        return new ModelInit(checkpoint, new Lora(rank, alpha, projections));
    }

    /**
     * The test-bed named by {@code testbed.topology}, loaded and checked against the experiment: its
     * institutes must be sites of the topology and its server site the topology's.
     */
    private static Experiment.Testbed testbed(Reader r, List<String> institutes, String serverSite) {
        String file = r.string("testbed.topology").trim();
        boolean emulate = r.c.getBoolean("testbed.emulate-links");
        double wait = seconds(r, "testbed.executor-wait");
        if (file.isEmpty()) {
            return new Experiment.Testbed("", null, emulate, wait);
        }
        Topology topology;
        try {
            topology = TopologyLoader.load(file);
        } catch (TopologyException e) {
            throw new ConfigException("testbed.topology: " + e.getMessage(), e);
        }
        List<String> strangers = institutes.stream().filter(i -> !topology.sites().containsKey(i)).toList();
        if (!strangers.isEmpty()) {
            throw new ConfigException("institutes " + strangers + (strangers.size() > 1 ? " are not sites" : " is not a site")
                    + " of the test-bed " + file + " (sites: " + String.join(", ", topology.siteIds()) + ")");
        }
        if (!serverSite.equals(topology.serverSite())) {
            throw new ConfigException("server-site = '" + serverSite + "' but the test-bed " + file
                    + " hosts the server part at '" + topology.serverSite() + "'");
        }
        return new Experiment.Testbed(file, topology, emulate, wait);
    }

    /**
     * security.*: whether the links between sites use mutual TLS, and with which keys. Paths only;
     * a password is read by each executor from its file or environment, never from the config.
     */
    private static Experiment.Security security(Reader r, Experiment.Testbed testbed, String master) {
        String mode = r.oneOf("security.require-tls", List.of("auto", "true", "false"));
        String keystore = r.string("security.keystore").trim();
        String truststore = r.string("security.truststore").trim();
        String passwordFile = r.string("security.password-file").trim();
        if (mode.equals("false")) {
            return new Experiment.Security(null, true);
        }
        boolean cluster = testbed.enabled() && !master.startsWith("local");
        if (keystore.isEmpty()) {
            if (mode.equals("true")) {
                throw new ConfigException("security.require-tls = true needs security.keystore (a site's PKCS#12 keystore from "
                        + "`fsl provision`, {site} standing for the site)");
            }
            if (cluster) {
                throw new ConfigException("security.keystore is empty, but security.require-tls = auto requires TLS for a test-bed "
                        + "(testbed.topology = " + testbed.topologyFile() + ") on a cluster (spark.master = " + master + "): set "
                        + "security.keystore, security.truststore and security.password-file to the files of `fsl provision`, "
                        + "or security.require-tls = false to run in plain TCP");
            }
            return new Experiment.Security(null, false);
        }
        if (truststore.isEmpty()) {
            throw new ConfigException("security.keystore is set but security.truststore is empty: name the federation's "
                    + "truststore.p12 from `fsl provision`");
        }
        return new Experiment.Security(new Tls.KeyFiles(onEveryHost(keystore), onEveryHost(truststore),
                passwordFile.isEmpty() ? "" : onEveryHost(passwordFile)), false);
    }

    /** Typed reads that turn the library's exceptions into messages naming the key. */
    private record Reader(Config c) {
        String string(String key) {
            try {
                return c.getString(key);
            } catch (com.typesafe.config.ConfigException e) {
                throw new ConfigException(key + ": " + e.getMessage(), e);
            }
        }

        List<String> strings(String key) {
            try {
                return c.getStringList(key);
            } catch (com.typesafe.config.ConfigException e) {
                throw new ConfigException(key + " must be a list of strings: " + e.getMessage(), e);
            }
        }

        List<Long> longs(String key) {
            try {
                return c.getLongList(key);
            } catch (com.typesafe.config.ConfigException e) {
                throw new ConfigException(key + " must be a list of integers: " + e.getMessage(), e);
            }
        }

        int intAtLeast(String key, int min) {
            int v;
            try {
                v = c.getInt(key);
            } catch (com.typesafe.config.ConfigException e) {
                throw new ConfigException(key + " must be an integer: " + e.getMessage(), e);
            }
            if (v < min) {
                throw new ConfigException(key + " must be >= " + min + ", got " + v);
            }
            return v;
        }

        String oneOf(String key, List<String> allowed) {
            String v = string(key);
            if (!allowed.contains(v)) {
                throw new ConfigException(key + " = '" + v + "' is not one of " + allowed);
            }
            return v;
        }

        OptimizerSpec optimizer(String key) {
            String name = oneOf(key + ".name", OptimizerSpec.NAMES);
            double lr = c.getDouble(key + ".learning-rate");
            if (!(lr > 0)) {
                throw new ConfigException(key + ".learning-rate must be > 0, got " + lr);
            }
            return new OptimizerSpec(name, lr, c.getDouble(key + ".momentum"));
        }
    }

    /** Keys a resumed run may change: how long it trains and when it stops, where and how Spark runs it, its checkpoints, retries and keys. */
    private static boolean resumable(String key) {
        return key.equals("train.rounds") || key.equals("output") || key.startsWith("stop.") || key.startsWith("spark.")
                || key.startsWith("checkpoint.") || key.startsWith("fault.") || key.startsWith("security.")
                || key.equals("debug.fail") || key.equals("debug.nan") || key.equals("debug.refuse") || key.equals("debug.forget")
                || key.equals("debug.absent");
    }

    /**
     * Refuses to resume a run whose saved resolved config ({@code saved}, as {@link Experiment#resolvedConfig()}
     * wrote it) differs from {@code current} in a key that changes what is trained, naming the key. A key the saved
     * config lacks (it was written before the key existed, e.g. transport.* before codecs) counts as its default,
     * which is what that run did.
     */
    public static void requireResumable(String saved, String current) {
        difference(saved, current, ExperimentLoader::resumable).ifPresent(d -> {
            throw new ConfigException("cannot resume: " + d
                    + "; a resumed run may change only train.rounds, stop.*, spark.*, checkpoint.*, fault.*, security.*"
                    + " and the test-only debug.fail, debug.nan, debug.refuse, debug.forget and debug.absent");
        });
    }

    /**
     * Refuses to take a finished run's results ({@code saved}: its resolved config) for {@code current}'s when the two
     * differ in a key that changes what is trained or how many rounds (train.rounds, stop.*), other than those
     * {@code placed} (keys the caller derives itself, whose values may be spelt differently), naming the key.
     */
    public static void requireReusable(String saved, String current, Set<String> placed) {
        difference(saved, current, key -> placed.contains(key) || resumable(key) && !key.equals("train.rounds")
                && !key.startsWith("stop.")).ifPresent(d -> {
                    throw new ConfigException(d);
                });
    }

    /** The first key not {@code ignored} whose values differ, as "key = now differs from the saved run's before". */
    private static java.util.Optional<String> difference(String saved, String current, java.util.function.Predicate<String> ignored) {
        Config before = ConfigFactory.parseString(saved);
        Config now = ConfigFactory.parseString(current);
        Config defaults = defaults().resolve();
        Set<String> keys = new TreeSet<>();
        before.entrySet().forEach(e -> keys.add(e.getKey()));
        now.entrySet().forEach(e -> keys.add(e.getKey()));
        for (String key : keys) {
            Object was = asRead(before, key, before.hasPath(key) ? before.getValue(key).unwrapped()
                    : defaults.hasPath(key) ? defaults.getValue(key).unwrapped() : null);
            Object is = asRead(now, key, now.hasPath(key) ? now.getValue(key).unwrapped() : null);
            if (!ignored.test(key) && !java.util.Objects.equals(was, is)) {
                return java.util.Optional.of(key + " = " + is + " differs from the saved run's " + was);
            }
        }
        return java.util.Optional.empty();
    }

    /** {@code key}'s value as {@code c}'s model and algorithm read it: null where they ignore the key. */
    private static Object asRead(Config c, String key, Object value) {
        return MODEL_OPTIONS.contains(key) ? optionAsBuilt(c, key, value) : settingRead(c, key) ? value : null;
    }

    /** The model options some models take and the others ignore (a saved config holds them all). */
    private static final Set<String> MODEL_OPTIONS = Set.of("model.width", "model.depth", "model.heads");

    /**
     * A model option as {@code c}'s model is built with it: 0 is the model's default, and a model without the option
     * ignores it, so a default that changes (model.width's was gpt's 128 for every model) does not make old runs
     * look different.
     */
    private static Object optionAsBuilt(Config c, String key, Object value) {
        if (!(value instanceof Number n) || !c.hasPath("model.name")) {
            return value;
        }
        Integer standard = ModelZoo.optionDefault(c.getString("model.name"), key.substring("model.".length()));
        return standard == null ? 0 : n.intValue() == 0 ? standard : n.intValue();
    }

    /** The first segments of the keys {@link AlgorithmSettings} holds, each read by some algorithms only. */
    private static final Set<String> ALGORITHM_SETTINGS = Set.of("server-interval", "auxiliary", "alignment", "warm-start");

    /**
     * Whether {@code c}'s algorithm reads {@code key}: a key of {@link AlgorithmSettings} that it ignores (FedAvg's
     * alignment.epochs) counts as absent, so a default that changes does not make old runs look different.
     */
    private static boolean settingRead(Config c, String key) {
        String first = key.split("\\.", 2)[0];
        if (!ALGORITHM_SETTINGS.contains(first) || !c.hasPath("algorithm") || !Algorithms.names().contains(c.getString("algorithm"))) {
            return true;
        }
        return Algorithms.byName(c.getString("algorithm"), AlgorithmSettings.defaults()).settingsRead().contains(first);
    }

    /** Lists the valid keys with their default values, for the help text. */
    public static List<String> describeKeys() {
        Config d = defaults().resolve();
        List<String> lines = new ArrayList<>();
        for (String k : new TreeSet<>(validKeys())) {
            lines.add(k + " = " + d.getValue(k).render(ConfigRenderOptions.concise()));
        }
        return lines;
    }
}
