package org.fslspark.testbed;

import org.fslspark.transport.SiteLink;

import java.util.Locale;
import java.util.Map;

/**
 * Rewrites a topology file's {@code links} with new figures and leaves every other line as it is:
 * the top-level {@code links { ... }} block is replaced (its braces found outside strings and
 * comments); a file that has none, or spells its links as dotted keys, gets the new block appended,
 * which overrides them (HOCON: a later value wins).
 */
public final class TopologyWriter {
    /**
     * How the header of a block that {@code fsl probe} wrote begins; a block rewritten again loses
     * the old header with its old figures.
     */
    public static final String MEASURED = "links measured by `fsl probe`";

    private TopologyWriter() {
    }

    /**
     * The text of a topology file with {@code links} in place of its own.
     *
     * @param header comment lines (without "#") placed above the block
     * @param notes  per site, a comment for the end of its line (may be absent)
     */
    public static String withLinks(String text, Map<String, SiteLink> links, String header, Map<String, String> notes) {
        StringBuilder block = new StringBuilder();
        for (String line : header.split("\n")) {
            block.append("# ").append(line).append('\n');
        }
        block.append("links {\n");
        int width = links.keySet().stream().mapToInt(String::length).max().orElse(0);
        for (Map.Entry<String, SiteLink> e : links.entrySet()) {
            SiteLink l = e.getValue();
            String entry = String.format(Locale.ROOT, "  %-" + width + "s { rtt = %.3f ms, throughput-mbps = %.1f }",
                    e.getKey(), l.rttSeconds() * 1e3, Math.max(0.1, l.throughputBitsPerSecond() / 1e6));
            String note = notes.get(e.getKey());
            block.append(entry).append(note == null ? "" : "  # " + note).append('\n');
        }
        block.append("}\n");
        int[] span = linksBlock(text);
        if (span == null) {
            return text + (text.endsWith("\n") ? "" : "\n") + "\n" + block;
        }
        String after = text.substring(span[1]);
        return text.substring(0, withOwnHeader(text, span[0])) + block + (after.startsWith("\n") ? after.substring(1) : after);
    }

    /** Start (of its line) and end (after the closing brace) of the top-level links block, or null. */
    static int[] linksBlock(String text) {
        int depth = 0;
        int i = 0;
        int n = text.length();
        boolean lineStart = true;
        while (i < n) {
            char c = text.charAt(i);
            if (c == '#' || (c == '/' && i + 1 < n && text.charAt(i + 1) == '/')) {
                while (i < n && text.charAt(i) != '\n') {
                    i++;
                }
                continue;
            }
            if (c == '"') {
                i = skipString(text, i);
                lineStart = false;
                continue;
            }
            if (c == '\n') {
                lineStart = true;
                i++;
                continue;
            }
            if (Character.isWhitespace(c)) {
                i++;
                continue;
            }
            if (depth == 0 && lineStart && text.startsWith("links", i)) {
                int j = i + "links".length();
                while (j < n && (text.charAt(j) == ' ' || text.charAt(j) == '\t')) {
                    j++;
                }
                if (j < n && text.charAt(j) == '=' || j < n && text.charAt(j) == ':') {
                    j++;
                    while (j < n && (text.charAt(j) == ' ' || text.charAt(j) == '\t')) {
                        j++;
                    }
                }
                if (j < n && text.charAt(j) == '{') {
                    int end = closing(text, j);
                    if (end > 0) {
                        return new int[]{text.lastIndexOf('\n', i) + 1, end};
                    }
                }
            }
            if (c == '{') {
                depth++;
            } else if (c == '}') {
                depth--;
            }
            lineStart = false;
            i++;
        }
        return null;
    }

    /** The start of the comment lines above {@code start} when they are a header this class wrote. */
    static int withOwnHeader(String text, int start) {
        int top = start;
        while (top > 0) {
            int previous = text.lastIndexOf('\n', top - 2) + 1;
            if (!text.startsWith("#", previous)) {
                break;
            }
            top = previous;
        }
        return text.startsWith("# " + MEASURED, top) ? top : start;
    }

    /** The index after the brace that closes the one at {@code open}, or -1. */
    private static int closing(String text, int open) {
        int depth = 0;
        int i = open;
        while (i < text.length()) {
            char c = text.charAt(i);
            if (c == '#' || (c == '/' && i + 1 < text.length() && text.charAt(i + 1) == '/')) {
                while (i < text.length() && text.charAt(i) != '\n') {
                    i++;
                }
                continue;
            }
            if (c == '"') {
                i = skipString(text, i);
                continue;
            }
            if (c == '{') {
                depth++;
            } else if (c == '}' && --depth == 0) {
                return i + 1;
            }
            i++;
        }
        return -1;
    }

    /** The index after the quoted string starting at {@code quote}. */
    private static int skipString(String text, int quote) {
        int i = quote + 1;
        while (i < text.length() && text.charAt(i) != '"') {
            i += text.charAt(i) == '\\' ? 2 : 1;
        }
        return i + 1;
    }
}
