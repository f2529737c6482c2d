# Sourced by bin/fsl and jobs/*: the JVM options Spark and ND4J need on Java 17.
# shellcheck shell=bash
fsl_opens=(--add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.lang.invoke=ALL-UNNAMED
  --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED
  --add-opens=java.base/sun.util.calendar=ALL-UNNAMED --add-exports=java.base/sun.security.action=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED)
# ND4J's off-heap memory is capped deliberately (JavaCPP counts every native buffer against
# maxbytes and the whole process against maxphysicalbytes), not left to its defaults. The process
# cap is three quarters of the machine's memory, at least 6g: a local run holds four sites and the
# server part in one JVM, and beside heap and ND4J's buffers the native libraries and the
# allocator's arenas take gigabytes (FSL-SAGE's alignment rounds on simple_conv cut after its
# first block peak at 6.2-7.2 GiB resident; a fixed 6g stopped them). Below the machine's memory,
# JavaCPP fails with an error that names FSL_PHYSICAL before the kernel's OOM killer would strike.
fsl_default_physical() {
  local kib g=0
  kib=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null)
  [[ $kib =~ ^[0-9]+$ ]] && g=$(( kib * 3 / 4 / 1048576 ))
  echo "$(( g > 6 ? g : 6 ))g"
}
fsl_memory=(-Dorg.bytedeco.javacpp.maxbytes=${FSL_OFFHEAP:-2g} -Dorg.bytedeco.javacpp.maxphysicalbytes=${FSL_PHYSICAL:-$(fsl_default_physical)})
# FSL_CUDA=1: ND4J's CUDA 11.6 backend (Maven profile cuda; CUDA 11.6 and cuDNN 8.3 on the host) for
# the builds these scripts start, instead of the CPU one. The CUDA natives have no oneDNN build.
if [[ ${FSL_CUDA:-0} == 1 ]]; then
  fsl_backend=nd4j-cuda-11.6
  fsl_maven_profiles=(-Pcuda)
  fsl_extension=
else
  fsl_backend=nd4j-native
  fsl_maven_profiles=()
  # The oneDNN build of libnd4j (see docs/PERFORMANCE.md).
  fsl_extension=-onednn
fi
# FSL_ND4J_EXTENSION= selects the plain build.
fsl_natives=(-Dorg.bytedeco.javacpp.platform.extension=${FSL_ND4J_EXTENSION-$fsl_extension})
# Whether the build whose class path file is $1 exists and holds the backend FSL_CUDA asks for.
fsl_built() {
  [[ -f $1 ]] && grep -q "/org/nd4j/$fsl_backend/" "$1"
}
