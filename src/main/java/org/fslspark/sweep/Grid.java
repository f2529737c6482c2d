package org.fslspark.sweep;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * The experiment keys a sweep varies and their values, as given on the command line
 * ({@code KEY=[v1,v2,...]}, values in HOCON); its points are the cross product, the first key varying slowest.
 */
public record Grid(List<Axis> axes) {
    /** One key and its values, each as HOCON text that can be given back as {@code KEY=VALUE}. */
    public record Axis(String key, List<String> values) {
    }

    public Grid {
        axes = List.copyOf(axes);
        if (axes.stream().map(Axis::key).distinct().count() != axes.size()) {
            throw new IllegalArgumentException("a grid names a key twice: " + axes.stream().map(Axis::key).toList());
        }
    }

    /** Parses {@code KEY=[v1,v2]} (or {@code KEY=v}, one value) options. */
    public static Grid parse(List<String> options) {
        List<Axis> axes = new ArrayList<>();
        for (String option : options) {
            int eq = option.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("--grid " + option + ": expected KEY=[v1,v2,...]");
            }
            String key = option.substring(0, eq).trim();
            ConfigValue value;
            try {
                value = ConfigFactory.parseString("v = " + option.substring(eq + 1)).getValue("v");
            } catch (ConfigException e) {
                throw new IllegalArgumentException("--grid " + option + ": " + e.getMessage(), e);
            }
            List<String> values = new ArrayList<>();
            if (value.valueType() == ConfigValueType.LIST) {
                for (ConfigValue v : (Iterable<ConfigValue>) ((com.typesafe.config.ConfigList) value)) {
                    values.add(v.render(ConfigRenderOptions.concise()));
                }
            } else {
                values.add(value.render(ConfigRenderOptions.concise()));
            }
            if (values.isEmpty()) {
                throw new IllegalArgumentException("--grid " + option + ": no values");
            }
            axes.add(new Axis(key, values));
        }
        return new Grid(axes);
    }

    /** Every combination of values, key to HOCON value in the grid's key order; one empty point for an empty grid. */
    public List<Map<String, String>> points() {
        List<Map<String, String>> points = new ArrayList<>();
        points.add(new LinkedHashMap<>());
        for (Axis a : axes) {
            List<Map<String, String>> next = new ArrayList<>();
            for (Map<String, String> p : points) {
                for (String v : a.values()) {
                    Map<String, String> q = new LinkedHashMap<>(p);
                    q.put(a.key(), v);
                    next.add(q);
                }
            }
            points = next;
        }
        return points.stream().map(Collections::unmodifiableMap).toList();
    }

    /**
     * A point's directory name, e.g. {@code algorithm=fsl-sage/data.partition.scheme=dirichlet} (Hive's layout);
     * characters other than letters, digits, '.', '-' and '_' in a value become '_'.
     */
    public static String directory(Map<String, String> point) {
        if (point.isEmpty()) {
            return "all";
        }
        List<String> parts = new ArrayList<>();
        point.forEach((k, v) -> parts.add(k + "=" + unquoted(v).replaceAll("[^A-Za-z0-9._-]", "_")));
        return String.join("/", parts);
    }

    /**
     * A point as a reader reads it in a table or a legend, e.g. {@code algorithm=fsl-sage, transport.activation-codec=int8,
     * transport.gradient-codec=int8}: strings unquoted, an object value as its keys in order.
     */
    public static String label(Map<String, String> point) {
        if (point.isEmpty()) {
            return "all";
        }
        List<String> parts = new ArrayList<>();
        point.forEach((k, v) -> {
            ConfigValue value = ConfigFactory.parseString("v = " + v).getValue("v");
            if (value instanceof ConfigObject o) {
                new TreeMap<>(o.toConfig().entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey,
                        e -> unquoted(e.getValue().render(ConfigRenderOptions.concise())))))
                        .forEach((sub, leaf) -> parts.add(k + "." + sub + "=" + leaf));
            } else {
                parts.add(k + "=" + unquoted(v));
            }
        });
        return String.join(", ", parts);
    }

    /** A value as a reader expects it in a table: strings without their HOCON quotes. */
    public static String unquoted(String hocon) {
        return hocon.length() >= 2 && hocon.startsWith("\"") && hocon.endsWith("\"") ? hocon.substring(1, hocon.length() - 1) : hocon;
    }
}
