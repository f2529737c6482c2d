package org.fslspark.data;

import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValueFactory;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The experiment keys whose values {@code prepare} applies (the split, the subset, the sources), recorded with every
 * share it writes as {@code prepared.<key>=<value>} lines of {@code _SUCCESS}, so that {@code train}, which reads what
 * prepare wrote, can refuse an experiment that sets them otherwise. Values are rendered as HOCON (strings quoted,
 * lists in brackets), so a recorded value can be given back with {@code --set}.
 *
 * <p>Only the keys that shaped the partition are recorded: {@code data.partition.alpha} for a Dirichlet split,
 * {@code data.partition.column} for a split by column, {@code seed} unless the split and subset are not random.
 */
public final class PreparedKeys {
    static final String PREFIX = "prepared.";
    public static final String KEY_SEED = "seed";

    private PreparedKeys() {
    }

    /** What an image prepare applies. */
    public static Map<String, String> of(PrepareSpec s) {
        Map<String, String> m = common(s.institutes(), s.format().toString(), s.train(), s.test(), s.scheme().toString());
        if (s.scheme() == PrepareSpec.Scheme.DIRICHLET) {
            m.put(PrepareSpec.KEY_ALPHA, render(s.alpha()));
        }
        if (s.scheme() == PrepareSpec.Scheme.COLUMN) {
            m.put(PrepareSpec.KEY_COLUMN, render(s.column()));
        }
        m.put(PrepareSpec.KEY_SUBSET, render(s.trainSubset()));
        if (s.scheme() != PrepareSpec.Scheme.COLUMN || s.trainSubset() > 0) {
            m.put(KEY_SEED, render(s.seed()));
        }
        return m;
    }

    /** What a text prepare applies (the tokenizer and context are checked from the share's own summary). */
    public static Map<String, String> of(TextSpec s) {
        Map<String, String> m = common(s.institutes(), "text", s.train(), s.test(), s.scheme().toString());
        m.put(TextSpec.KEY_DELIMITER, render(s.delimiter()));
        if (s.test().isEmpty()) {
            m.put(TextSpec.KEY_TEST_FRACTION, render(s.testFraction()));
        }
        m.put(PrepareSpec.KEY_SUBSET, render(s.trainSubset()));
        m.put(KEY_SEED, render(s.seed()));
        return m;
    }

    private static Map<String, String> common(List<PrepareSpec.Target> institutes, String format, List<String> train,
                                              List<String> test, String scheme) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(PrepareSpec.KEY_INSTITUTES, render(institutes.stream().map(PrepareSpec.Target::institute).toList()));
        m.put(PrepareSpec.KEY_FORMAT, render(format));
        m.put(PrepareSpec.KEY_TRAIN, render(train));
        m.put(PrepareSpec.KEY_TEST, render(test));
        m.put(PrepareSpec.KEY_SCHEME, render(scheme));
        return m;
    }

    /** A value as HOCON, e.g. {@code "dirichlet"}, {@code 0.5}, {@code ["osu","iitb"]}. */
    public static String render(Object value) {
        return ConfigValueFactory.fromAnyRef(value).render(ConfigRenderOptions.concise());
    }

    /** The {@code _SUCCESS} lines for {@code keys}. */
    static String lines(Map<String, String> keys) {
        StringBuilder b = new StringBuilder();
        keys.forEach((k, v) -> b.append(PREFIX).append(k).append('=').append(v).append('\n'));
        return b.toString();
    }

    /** What the share at {@code location} was prepared with; empty for shares written before keys were recorded. */
    public static Map<String, String> read(Configuration conf, Path location) {
        Map<String, String> m = new LinkedHashMap<>();
        PartitionStore.summary(conf, PartitionStore.normalize(location)).forEach((k, v) -> {
            if (k.startsWith(PREFIX)) {
                m.put(k.substring(PREFIX.length()), v);
            }
        });
        return m;
    }

    /** A key whose value differs: the experiment's and the recorded one. */
    public record Mismatch(String key, String experiment, String prepared) {
    }

    /**
     * The keys recorded and expected whose values differ, in the expected order. A key present on one side only
     * follows from another key that differs (e.g. alpha when the scheme differs) and is not repeated.
     */
    public static List<Mismatch> compare(Map<String, String> expected, Map<String, String> recorded) {
        List<Mismatch> out = new ArrayList<>();
        expected.forEach((k, v) -> {
            String r = recorded.get(k);
            if (r != null && !r.equals(v)) {
                out.add(new Mismatch(k, v, r));
            }
        });
        return out;
    }
}
