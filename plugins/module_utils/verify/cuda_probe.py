# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ai_system.containers contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prove that a CUDA workload runs, using only the NVIDIA driver libraries.

This file is self-contained on purpose: it uses the Python standard library
only (no Ansible, no pynvml) so that it can be

* sent as source to ``podman exec -i CONTAINER python3 -`` by the
  ``cuda_check`` module, which reads one JSON document from stdout;
* run directly on a host: ``python3 cuda_probe.py`` (exit status 0 passed,
  1 failed, 3 skipped);
* imported by ``nvml_binding``, whose pynvml-compatible ctypes binding
  (used by ``nvml_facts`` and the exporter) extends the probe's own NVML
  calls, :class:`ProbeNvml`, and shares its library search and errors.

The probe loads ``libnvidia-ml.so.1`` and ``libcuda.so.1`` - the libraries
that the NVIDIA CDI spec injects into a container - and never anything from
the CUDA toolkit or the container image. It reads the GPUs through NVML, then
for every CUDA device creates a context, copies a buffer to the device, JIT
compiles an embedded PTX kernel (out[i] = a * in[i] + b), launches it, copies
the result back and checks every element. Every step is timed; a failure
names the exact driver call and the driver's own error name and text.

Python 3.9 or later is required on the side that runs the probe.
"""

from __future__ import annotations

import argparse
import array
import contextlib
import ctypes
import json
import os
import signal
import sys
import time

PROBE_NAME = "ai_system.cuda_probe"
PROBE_VERSION = 1

NVML_LIBRARY = "libnvidia-ml.so.1"
CUDA_LIBRARY = "libcuda.so.1"
#: WSL2's library directory: the Windows driver's libcuda.so.1 and libnvidia-ml.so.1.
WSL_LIB_DIR = "/usr/lib/wsl/lib"

# Set by the lab-only CDI spec (roles/nvidia_toolkit, lab mode). A container
# that has it was given a stand-in device, not a GPU.
LAB_MARKER_ENV = "AI_SYSTEM_LAB_CDI"

REASON_PASSED = "CUDA kernel ran and every element was verified"
REASON_NO_DRIVER = "no NVIDIA driver"
REASON_LAB = "no NVIDIA driver (lab CDI device)"

# Each step is announced on stderr before it runs, so that a probe that hangs
# or crashes can still be told by the step it was in.
PROGRESS_PREFIX = "cuda_probe: step "

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_SKIPPED = 3

DEFAULT_ELEMENTS = 1 << 20

# The VRAM budget check (--budget-mib, with --mps where CUDA MPS enforces it):
# half the budget must be allocatable, the budget plus BUDGET_OVER_MIB must be
# refused with CUDA_ERROR_OUT_OF_MEMORY, as the driver refuses an allocation
# over an MPS client's CUDA_MPS_PINNED_DEVICE_MEM_LIMIT.
BUDGET_OVER_MIB = 64
CUDA_ERROR_OUT_OF_MEMORY = 2
MPS_LIMIT_ENV = "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"
MPS_PIPE_ENV = "CUDA_MPS_PIPE_DIRECTORY"
BUDGET_ENFORCED, BUDGET_NOT_ENFORCED, BUDGET_FAILED, BUDGET_SKIPPED = (
    "enforced", "not_enforced", "failed", "skipped")
BLOCK_SIZE = 256
KERNEL_NAME = "ai_system_axpb"
# Chosen so that every a * x + b is exact in float32: the check compares
# bit-for-bit, with no tolerance.
KERNEL_A = 3.0
KERNEL_B = 0.5

# out[i] = a * in[i] + b for i < n. PTX ISA 7.0 (CUDA 11.0 drivers and later),
# compiled for sm_50 and JIT-compiled by the driver for the actual GPU.
PTX_SOURCE = """\
//
// ai_system cuda_probe: out[i] = a * in[i] + b, for i < n
//
.version 7.0
.target sm_50
.address_size 64

.visible .entry ai_system_axpb(
    .param .u64 ai_system_axpb_param_in,
    .param .u64 ai_system_axpb_param_out,
    .param .f32 ai_system_axpb_param_a,
    .param .f32 ai_system_axpb_param_b,
    .param .u32 ai_system_axpb_param_n
)
{
    .reg .pred  %p<2>;
    .reg .f32   %f<5>;
    .reg .b32   %r<6>;
    .reg .b64   %rd<8>;

    ld.param.u64    %rd1, [ai_system_axpb_param_in];
    ld.param.u64    %rd2, [ai_system_axpb_param_out];
    ld.param.f32    %f1, [ai_system_axpb_param_a];
    ld.param.f32    %f2, [ai_system_axpb_param_b];
    ld.param.u32    %r1, [ai_system_axpb_param_n];
    mov.u32         %r2, %ctaid.x;
    mov.u32         %r3, %ntid.x;
    mov.u32         %r4, %tid.x;
    mad.lo.s32      %r5, %r2, %r3, %r4;
    setp.ge.u32     %p1, %r5, %r1;
    @%p1 bra        DONE;
    cvta.to.global.u64  %rd3, %rd1;
    cvta.to.global.u64  %rd4, %rd2;
    mul.wide.u32    %rd5, %r5, 4;
    add.s64         %rd6, %rd3, %rd5;
    add.s64         %rd7, %rd4, %rd5;
    ld.global.f32   %f3, [%rd6];
    fma.rn.f32      %f4, %f1, %f3, %f2;
    st.global.f32   [%rd7], %f4;
DONE:
    ret;
}
"""

# The C types of the kernel's parameters, in the order of the .entry above.
KERNEL_PARAM_TYPES = (ctypes.c_uint64, ctypes.c_uint64, ctypes.c_float, ctypes.c_float, ctypes.c_uint32)

# CUdevice_attribute values.
CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75
CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76
# CUjit_option values used to fetch the JIT log when PTX fails to load.
CU_JIT_ERROR_LOG_BUFFER = 5
CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6
JIT_LOG_SIZE = 8192

_P = ctypes.POINTER
# argtypes of every driver API entry point the probe calls (all return CUresult).
CUDA_SIGNATURES = {
    "cuGetErrorName": (ctypes.c_int, _P(ctypes.c_char_p)),
    "cuGetErrorString": (ctypes.c_int, _P(ctypes.c_char_p)),
    "cuInit": (ctypes.c_uint,),
    "cuDriverGetVersion": (_P(ctypes.c_int),),
    "cuDeviceGetCount": (_P(ctypes.c_int),),
    "cuDeviceGet": (_P(ctypes.c_int), ctypes.c_int),
    "cuDeviceGetName": (ctypes.c_char_p, ctypes.c_int, ctypes.c_int),
    "cuDeviceGetUuid": (_P(ctypes.c_ubyte * 16), ctypes.c_int),
    "cuDeviceTotalMem_v2": (_P(ctypes.c_size_t), ctypes.c_int),
    "cuDeviceGetAttribute": (_P(ctypes.c_int), ctypes.c_int, ctypes.c_int),
    "cuCtxCreate_v2": (_P(ctypes.c_void_p), ctypes.c_uint, ctypes.c_int),
    "cuCtxDestroy_v2": (ctypes.c_void_p,),
    "cuCtxSynchronize": (),
    "cuMemAlloc_v2": (_P(ctypes.c_uint64), ctypes.c_size_t),
    "cuMemFree_v2": (ctypes.c_uint64,),
    "cuMemcpyHtoD_v2": (ctypes.c_uint64, ctypes.c_void_p, ctypes.c_size_t),
    "cuMemcpyDtoH_v2": (ctypes.c_void_p, ctypes.c_uint64, ctypes.c_size_t),
    "cuModuleLoadData": (_P(ctypes.c_void_p), ctypes.c_char_p),
    "cuModuleLoadDataEx": (_P(ctypes.c_void_p), ctypes.c_char_p, ctypes.c_uint, _P(ctypes.c_int), _P(ctypes.c_void_p)),
    "cuModuleGetFunction": (_P(ctypes.c_void_p), ctypes.c_void_p, ctypes.c_char_p),
    "cuModuleUnload": (ctypes.c_void_p,),
    "cuLaunchKernel": (
        ctypes.c_void_p,
        ctypes.c_uint, ctypes.c_uint, ctypes.c_uint,
        ctypes.c_uint, ctypes.c_uint, ctypes.c_uint,
        ctypes.c_uint, ctypes.c_void_p, _P(ctypes.c_void_p), _P(ctypes.c_void_p),
    ),
}

MIB = 1024 * 1024


def library_candidates(name, lib_dir=WSL_LIB_DIR, exists=os.path.exists):
    """Where a driver library is opened from, in order: the dynamic linker's
    own search (``name``), then WSL2's library directory when it holds the
    library (the Windows driver's libcuda.so.1 and libnvidia-ml.so.1 are
    there, and not every distribution puts it in the ldconfig cache). The one
    place the collection adds WSL to the library search."""
    out = [name]
    if lib_dir and os.sep not in name:
        path = os.path.join(lib_dir, name)
        if exists(path):
            out.append(path)
    return out


def default_loader(name, cdll=None, candidates=None):
    """Load a shared library the way the dynamic linker finds it (ldconfig
    cache), else from WSL2's library directory; the first error when neither works."""
    cdll = cdll or ctypes.CDLL
    first = None
    for path in (candidates or library_candidates)(name):
        try:
            return cdll(path)
        except OSError as exc:
            first = first or exc
    raise first


def _decode(raw):
    if raw is None:
        return ""
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "replace")
    return str(raw)


def _bind(lib, name, argtypes, restype):
    """Look up one symbol and declare its C signature."""
    fn = getattr(lib, name)  # AttributeError when the symbol does not exist
    fn.argtypes = list(argtypes)
    fn.restype = restype
    return fn


# --------------------------------------------------------------------------
# NVML through ctypes, with the function names and behaviour of pynvml
# --------------------------------------------------------------------------

NVML_SUCCESS = 0
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13

_NVML_BUFFER = 96
_NVML_DRIVER_BUFFER = 80


class NVMLError(Exception):
    """An NVML return code, like pynvml.NVMLError: ``value`` is the code."""

    def __init__(self, value, message=None):
        super().__init__(value)
        self.value = value
        self.message = message

    def __str__(self):
        return self.message or "NVML error %d" % self.value


class NvmlMemory(ctypes.Structure):
    """nvmlMemory_t"""

    _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong), ("used", ctypes.c_ulonglong)]


class ProbeNvml(object):
    """The NVML calls the probe makes, over ctypes, with pynvml's names.

    Errors are raised as :class:`NVMLError` with ``.value`` set to the NVML
    return code. ``loader`` opens the library (tests inject a fake). The
    collection's pynvml-compatible binding, ``nvml_binding.CtypesNvml``,
    extends this class with the queries only the host side makes.
    """

    def __init__(self, loader=None, library=NVML_LIBRARY):
        self._loader = loader or default_loader
        self.library = library
        self._lib = None
        self._fns = {}

    # -- plumbing -----------------------------------------------------------
    def load(self):
        """Open the library; raise NVMLError(LIBRARY_NOT_FOUND) when it is missing."""
        if self._lib is None:
            try:
                self._lib = self._loader(self.library)
            except OSError as exc:
                raise NVMLError(
                    NVML_ERROR_LIBRARY_NOT_FOUND,
                    "NVML Shared Library Not Found (%s)" % (exc,),
                )
        return self._lib

    def _fn(self, name, argtypes, restype=ctypes.c_int):
        fn = self._fns.get(name)
        if fn is None:
            try:
                fn = _bind(self.load(), name, argtypes, restype)
            except AttributeError:
                raise NVMLError(NVML_ERROR_FUNCTION_NOT_FOUND, "Function Not Found: %s" % name)
            self._fns[name] = fn
        return fn

    def _check(self, ret):
        if ret != NVML_SUCCESS:
            raise NVMLError(ret, self.nvmlErrorString(ret))

    def _call(self, name, argtypes, *args):
        self._check(self._fn(name, argtypes)(*args))

    # -- pynvml API ---------------------------------------------------------
    def nvmlErrorString(self, result):
        try:
            fn = self._fn("nvmlErrorString", (ctypes.c_int,), ctypes.c_char_p)
            text = _decode(fn(result))
        except NVMLError:
            text = ""
        return text or "NVML error %d" % result

    def nvmlInit(self):
        self._call("nvmlInit_v2", ())

    def nvmlShutdown(self):
        self._call("nvmlShutdown", ())

    def nvmlSystemGetDriverVersion(self):
        buf = ctypes.create_string_buffer(_NVML_DRIVER_BUFFER)
        self._call("nvmlSystemGetDriverVersion", (ctypes.c_char_p, ctypes.c_uint), buf, _NVML_DRIVER_BUFFER)
        return _decode(buf.value)

    def nvmlSystemGetCudaDriverVersion_v2(self):
        value = ctypes.c_int()
        self._call("nvmlSystemGetCudaDriverVersion_v2", (_P(ctypes.c_int),), ctypes.byref(value))
        return value.value

    def nvmlDeviceGetCount(self):
        value = ctypes.c_uint()
        self._call("nvmlDeviceGetCount_v2", (_P(ctypes.c_uint),), ctypes.byref(value))
        return value.value

    def nvmlDeviceGetHandleByIndex(self, index):
        handle = ctypes.c_void_p()
        self._call("nvmlDeviceGetHandleByIndex_v2", (ctypes.c_uint, _P(ctypes.c_void_p)), index, ctypes.byref(handle))
        return handle

    def _string_query(self, name, handle):
        buf = ctypes.create_string_buffer(_NVML_BUFFER)
        self._call(name, (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint), handle, buf, _NVML_BUFFER)
        return _decode(buf.value)

    def nvmlDeviceGetName(self, handle):
        return self._string_query("nvmlDeviceGetName", handle)

    def nvmlDeviceGetUUID(self, handle):
        return self._string_query("nvmlDeviceGetUUID", handle)

    def nvmlDeviceGetMemoryInfo(self, handle):
        memory = NvmlMemory()
        self._call("nvmlDeviceGetMemoryInfo", (ctypes.c_void_p, _P(NvmlMemory)), handle, ctypes.byref(memory))
        return memory


# --------------------------------------------------------------------------
# CUDA driver API
# --------------------------------------------------------------------------

class MissingSymbol(Exception):
    """The driver library lacks an entry point (a driver older than the probe needs)."""

    def __init__(self, library, name):
        super().__init__(library, name)
        self.library = library
        self.name = name

    def __str__(self):
        return "symbol %s not found in %s (driver too old?)" % (self.name, self.library)


class CudaError(Exception):
    """A CUresult other than CUDA_SUCCESS from one driver call."""

    def __init__(self, function, code, name, description):
        super().__init__(function, code)
        self.function = function
        self.code = code
        self.name = name
        self.description = description

    def __str__(self):
        return "%s (%d): %s" % (self.name, self.code, self.description)


class CudaDriver(object):
    """Calls into libcuda.so.1 with declared signatures and error strings."""

    def __init__(self, lib, library=CUDA_LIBRARY):
        self._lib = lib
        self.library = library
        self._fns = {}

    def fn(self, name):
        fn = self._fns.get(name)
        if fn is None:
            try:
                fn = _bind(self._lib, name, CUDA_SIGNATURES[name], ctypes.c_int)
            except AttributeError:
                raise MissingSymbol(self.library, name)
            self._fns[name] = fn
        return fn

    def error_text(self, code):
        """(name, description) of a CUresult from cuGetErrorName/cuGetErrorString."""
        texts = []
        for getter in ("cuGetErrorName", "cuGetErrorString"):
            out = ctypes.c_char_p()
            try:
                ok = self.fn(getter)(code, ctypes.byref(out)) == 0
            except MissingSymbol:
                ok = False
            texts.append(_decode(out.value) if ok and out.value else "")
        name = texts[0] or "CUresult %d" % code
        return name, texts[1] or "unrecognized error code"

    def call(self, name, *args):
        code = self.fn(name)(*args)
        if code != 0:
            err_name, description = self.error_text(code)
            raise CudaError(name, code, err_name, description)


def format_cuda_uuid(raw):
    """16 raw bytes to the GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx form NVML uses."""
    hexed = "".join("%02x" % (b & 0xFF) for b in raw)
    return "GPU-%s-%s-%s-%s-%s" % (hexed[0:8], hexed[8:12], hexed[12:16], hexed[16:20], hexed[20:32])


def cuda_version_string(version):
    """12040 -> "12.4" (the encoding of cuDriverGetVersion and NVML)."""
    if not version:
        return None
    return "%d.%d" % (version // 1000, (version % 1000) // 10)


# --------------------------------------------------------------------------
# Where the loaded libraries came from
# --------------------------------------------------------------------------

def _read_text(path):
    try:
        with open(path, "r") as handle:
            return handle.read()
    except (IOError, OSError):
        return ""


def _unescape_mount_path(field):
    """Undo the octal escapes (\\040 for a space, ...) of /proc/*/mountinfo."""
    out = []
    i = 0
    while i < len(field):
        code = field[i + 1:i + 4]
        if field[i] == "\\" and len(code) == 3 and code.isdigit():
            out.append(chr(int(code, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mount_points(mountinfo_text):
    points = set()
    for line in mountinfo_text.splitlines():
        fields = line.split()
        if len(fields) > 4:
            points.add(_unescape_mount_path(fields[4]))
    return points


def mapped_library_path(maps_text, prefix):
    """Path of the mapped file whose name starts with ``prefix`` (e.g. libcuda.so)."""
    for line in maps_text.splitlines():
        fields = line.split(None, 5)
        if len(fields) < 6:
            continue
        path = fields[5].strip()
        if path.endswith(" (deleted)"):
            path = path[: -len(" (deleted)")]
        if os.path.basename(path).startswith(prefix):
            return path
    return None


def covering_mount(path, mount_points):
    """The mount point that ``path`` lives on (longest matching prefix)."""
    best = "/"
    for point in mount_points:
        if point == "/":
            continue
        if path == point or path.startswith(point.rstrip("/") + "/"):
            if len(point) > len(best):
                best = point
    return best


def library_provenance(soname, maps_text, mount_points):
    """Where one loaded library came from.

    CDI (and every other device-injection mechanism) bind-mounts the host's
    driver libraries into the container, so a library file that lives on a
    mount other than the container's root file system was injected; one on
    the root file system is part of the image.
    """
    prefix = soname.split(".so")[0] + ".so"
    path = mapped_library_path(maps_text, prefix)
    if path is None:
        return {"soname": soname, "path": None, "mount": None, "injected": False}
    mount = covering_mount(path, mount_points)
    return {"soname": soname, "path": path, "mount": mount, "injected": mount != "/"}


# --------------------------------------------------------------------------
# The probe
# --------------------------------------------------------------------------

class StepFailed(Exception):
    """Raised out of a step; the step record carries the details."""

    def __init__(self, record):
        super().__init__(record.get("error"))
        self.record = record


class Steps(object):
    """Times every step and records its outcome."""

    def __init__(self, progress=None):
        self.records = []
        self._progress = progress

    @contextlib.contextmanager
    def step(self, name, device=None, detail=None):
        record = {"step": name, "ok": False, "ms": 0.0, "error": None}
        if device is not None:
            record["device"] = device
        if detail:
            record["detail"] = detail
        if self._progress is not None:
            self._progress(step_label(record))
        started = time.perf_counter()
        try:
            yield record
        except StepFailed:
            raise
        except CudaError as exc:
            record["error"] = str(exc)
            record["error_name"] = exc.name
            record["code"] = exc.code
            raise StepFailed(record)
        except NVMLError as exc:
            record["error"] = str(exc)
            record["code"] = exc.value
            raise StepFailed(record)
        except MissingSymbol as exc:
            record["error"] = str(exc)
            raise StepFailed(record)
        except Exception as exc:  # any other failure of the step is reported, not raised
            record["error"] = "%s: %s" % (type(exc).__name__, exc)
            raise StepFailed(record)
        else:
            record["ok"] = True
        finally:
            record["ms"] = round((time.perf_counter() - started) * 1000.0, 3)
            self.records.append(record)


def step_label(record):
    label = record["step"]
    if "device" in record:
        label += " on device %s" % record["device"]
    if record.get("detail"):
        label += " (%s)" % record["detail"]
    return label


def new_result(elements):
    return {
        "probe": PROBE_NAME,
        "probe_version": PROBE_VERSION,
        "status": None,
        "reason": None,
        "failed_step": None,
        "error": None,
        "lab": False,
        "python": "%d.%d.%d" % tuple(sys.version_info[:3]),
        "driver_version": None,
        "cuda_driver_version": None,
        "gpus": [],
        "cuda_devices": [],
        "libraries": [],
        "kernel_result": {"ok": False, "n_elements": elements, "devices_tested": 0, "mismatches": 0,
                          "first_mismatch": None},
        "steps": [],
        "total_ms": 0.0,
        "budget": None,
    }


def _fail(result, record, reason=None):
    result["status"] = "failed"
    result["failed_step"] = step_label(record)
    result["error"] = record.get("error")
    result["reason"] = reason or "%s failed: %s" % (step_label(record), record.get("error"))


def _nvml_phase(steps, nvml, result):
    with steps.step("nvmlInit_v2"):
        nvml.nvmlInit()
    try:
        with steps.step("nvmlSystemGetDriverVersion"):
            result["driver_version"] = nvml.nvmlSystemGetDriverVersion()
        with steps.step("nvmlSystemGetCudaDriverVersion_v2"):
            result["cuda_driver_version"] = cuda_version_string(nvml.nvmlSystemGetCudaDriverVersion_v2())
        with steps.step("nvmlDeviceGetCount_v2"):
            count = nvml.nvmlDeviceGetCount()
        for index in range(count):
            with steps.step("nvmlDeviceGetHandleByIndex_v2", device=index):
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
            with steps.step("nvmlDeviceGetName", device=index):
                name = nvml.nvmlDeviceGetName(handle)
            with steps.step("nvmlDeviceGetUUID", device=index):
                uuid = nvml.nvmlDeviceGetUUID(handle)
            with steps.step("nvmlDeviceGetMemoryInfo", device=index):
                memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            result["gpus"].append({
                "index": index,
                "name": name,
                "uuid": uuid,
                "memory_total_mib": int(memory.total) // MIB,
                "memory_used_mib": int(memory.used) // MIB,
                "memory_free_mib": int(memory.free) // MIB,
            })
    finally:
        with contextlib.suppress(StepFailed), steps.step("nvmlShutdown"):
            nvml.nvmlShutdown()


def _input_values(elements):
    return array.array("f", (float((i % 65536) - 32768) for i in range(elements)))


def _expected_values(inputs):
    return array.array("f", (KERNEL_A * x + KERNEL_B for x in inputs))


def _kernel_on_device(steps, cuda, ordinal, elements, inputs, expected, result):
    """Run the kernel on one device; always releases what it allocated."""
    nbytes = elements * 4
    device = ctypes.c_int()
    with steps.step("cuDeviceGet", device=ordinal):
        cuda.call("cuDeviceGet", ctypes.byref(device), ordinal)
    name_buf = ctypes.create_string_buffer(256)
    with steps.step("cuDeviceGetName", device=ordinal):
        cuda.call("cuDeviceGetName", name_buf, 256, device.value)
    total = ctypes.c_size_t()
    with steps.step("cuDeviceTotalMem_v2", device=ordinal):
        cuda.call("cuDeviceTotalMem_v2", ctypes.byref(total), device.value)
    uuid = (ctypes.c_ubyte * 16)()
    with steps.step("cuDeviceGetUuid", device=ordinal):
        cuda.call("cuDeviceGetUuid", ctypes.byref(uuid), device.value)
    major, minor = ctypes.c_int(), ctypes.c_int()
    with steps.step("cuDeviceGetAttribute", device=ordinal, detail="compute capability"):
        cuda.call("cuDeviceGetAttribute", ctypes.byref(major), CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                  device.value)
        cuda.call("cuDeviceGetAttribute", ctypes.byref(minor), CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                  device.value)
    result["cuda_devices"].append({
        "ordinal": ordinal,
        "name": _decode(name_buf.value),
        "uuid": format_cuda_uuid(uuid),
        "memory_total_mib": int(total.value) // MIB,
        "compute_capability": "%d.%d" % (major.value, minor.value),
    })

    context = ctypes.c_void_p()
    d_in, d_out = ctypes.c_uint64(0), ctypes.c_uint64(0)
    module = ctypes.c_void_p()
    cleanup = []
    try:
        with steps.step("cuCtxCreate_v2", device=ordinal):
            cuda.call("cuCtxCreate_v2", ctypes.byref(context), 0, device.value)
        cleanup.append(("cuCtxDestroy_v2", context, None))
        with steps.step("cuMemAlloc_v2", device=ordinal, detail="input, %d bytes" % nbytes):
            cuda.call("cuMemAlloc_v2", ctypes.byref(d_in), nbytes)
        cleanup.append(("cuMemFree_v2", d_in, "input"))
        with steps.step("cuMemAlloc_v2", device=ordinal, detail="output, %d bytes" % nbytes):
            cuda.call("cuMemAlloc_v2", ctypes.byref(d_out), nbytes)
        cleanup.append(("cuMemFree_v2", d_out, "output"))
        with steps.step("cuMemcpyHtoD_v2", device=ordinal, detail="%d bytes" % nbytes):
            cuda.call("cuMemcpyHtoD_v2", d_in.value, inputs.buffer_info()[0], nbytes)
        with steps.step("cuModuleLoadData", device=ordinal, detail="PTX, JIT-compiled by the driver") as record:
            try:
                cuda.call("cuModuleLoadData", ctypes.byref(module), PTX_SOURCE.encode("ascii"))
            except CudaError as exc:
                log = _jit_error_log(cuda)
                if log:
                    record["jit_log"] = log
                    exc.description = "%s; JIT log: %s" % (exc.description, log)
                raise
        cleanup.append(("cuModuleUnload", module, None))
        function = ctypes.c_void_p()
        with steps.step("cuModuleGetFunction", device=ordinal, detail=KERNEL_NAME):
            cuda.call("cuModuleGetFunction", ctypes.byref(function), module, KERNEL_NAME.encode("ascii"))
        args = [
            KERNEL_PARAM_TYPES[0](d_in.value),
            KERNEL_PARAM_TYPES[1](d_out.value),
            KERNEL_PARAM_TYPES[2](KERNEL_A),
            KERNEL_PARAM_TYPES[3](KERNEL_B),
            KERNEL_PARAM_TYPES[4](elements),
        ]
        params = (ctypes.c_void_p * len(args))(*[ctypes.addressof(a) for a in args])
        grid = (elements + BLOCK_SIZE - 1) // BLOCK_SIZE
        with steps.step("cuLaunchKernel", device=ordinal, detail="grid %d x block %d" % (grid, BLOCK_SIZE)):
            cuda.call("cuLaunchKernel", function, grid, 1, 1, BLOCK_SIZE, 1, 1, 0, None, params, None)
        with steps.step("cuCtxSynchronize", device=ordinal):
            cuda.call("cuCtxSynchronize")
        outputs = array.array("f", bytes(nbytes))
        with steps.step("cuMemcpyDtoH_v2", device=ordinal, detail="%d bytes" % nbytes):
            cuda.call("cuMemcpyDtoH_v2", outputs.buffer_info()[0], d_out.value, nbytes)
        with steps.step("verify", device=ordinal, detail="%d elements, out = %g * in + %g" % (
                elements, KERNEL_A, KERNEL_B)) as record:
            _verify(outputs, expected, inputs, record, result["kernel_result"])
    except StepFailed:
        _release(steps, cuda, ordinal, cleanup)
        raise
    failure = _release(steps, cuda, ordinal, cleanup)
    if failure is not None:
        result["kernel_result"]["ok"] = False
        raise StepFailed(failure)
    result["kernel_result"]["devices_tested"] += 1


def _jit_error_log(cuda):
    """Load the PTX again with a JIT error log buffer, to say why it failed."""
    log = ctypes.create_string_buffer(JIT_LOG_SIZE)
    options = (ctypes.c_int * 2)(CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES)
    values = (ctypes.c_void_p * 2)(ctypes.addressof(log), JIT_LOG_SIZE)
    scratch = ctypes.c_void_p()
    try:
        code = cuda.fn("cuModuleLoadDataEx")(ctypes.byref(scratch), PTX_SOURCE.encode("ascii"), 2, options, values)
    except (MissingSymbol, ctypes.ArgumentError):
        return ""
    if code == 0 and scratch.value:
        with contextlib.suppress(Exception):
            cuda.fn("cuModuleUnload")(scratch)
    return _decode(log.value).strip()


def _verify(outputs, expected, inputs, record, kernel_result):
    if outputs == expected:
        kernel_result["ok"] = True
        return
    mismatches = 0
    first = None
    for index, (got, want) in enumerate(zip(outputs, expected)):
        if got != want:
            mismatches += 1
            if first is None:
                first = {"index": index, "input": inputs[index], "expected": want, "got": got}
    kernel_result["ok"] = False
    kernel_result["mismatches"] += mismatches
    kernel_result["first_mismatch"] = first
    record["mismatches"] = mismatches
    raise ValueError("%d of %d elements differ; first at index %d: expected %r, got %r" % (
        mismatches, len(expected), first["index"], first["expected"], first["got"]))


def _release(steps, cuda, ordinal, cleanup):
    """Free in reverse order; every release is tried. Returns the first failed record."""
    first = None
    for function, handle, detail in reversed(cleanup):
        try:
            with steps.step(function, device=ordinal, detail=detail):
                cuda.call(function, handle.value if isinstance(handle, ctypes.c_uint64) else handle)
        except StepFailed as failure:
            first = first or failure.record
    return first


def _load(steps, loader, library):
    """Open one library; None when it is not there (the step is recorded as failed)."""
    try:
        with steps.step("dlopen", detail=library) as record:
            try:
                return loader(library)
            except OSError as exc:
                record["missing"] = True
                record["error"] = str(exc)
                raise StepFailed(record)
    except StepFailed:
        return None


def lab_marker_present(environ):
    return str(environ.get(LAB_MARKER_ENV, "")).strip() not in ("", "0")


def new_budget(budget_mib, mps):
    return {"vram_mib": budget_mib, "mps": mps, "status": None, "reason": None, "failed_step": None,
            "error": None, "within_mib": max(1, budget_mib // 2), "over_mib": budget_mib + BUDGET_OVER_MIB}


def _budget_verdict(result, budget):
    """Fill ``budget`` for a probe that ended without running the budget steps."""
    if result["lab"]:
        budget.update(status=BUDGET_SKIPPED, reason="lab CDI device: no GPU and no MPS, the %d MiB budget "
                      "is not checked" % budget["vram_mib"])
    elif result["status"] == "skipped":
        budget.update(status=BUDGET_SKIPPED, reason="no NVIDIA driver: the %d MiB budget is not checked"
                      % budget["vram_mib"])
    elif result["status"] == "failed":
        budget.update(status=BUDGET_SKIPPED, reason="not checked: the CUDA check failed at %s"
                      % result["failed_step"])
    elif not budget["mps"]:
        budget.update(status=BUDGET_NOT_ENFORCED, reason="VRAM budget not enforced: without CUDA MPS nothing "
                      "stops this container from using more than its %d MiB" % budget["vram_mib"])


def _budget_steps(steps, cuda, budget, environ):
    """Prove on device 0 that the MPS client's budget holds: an allocation
    within it succeeds, one just over it fails with CUDA_ERROR_OUT_OF_MEMORY."""
    with steps.step("MPS client environment", detail="%s, %s" % (MPS_LIMIT_ENV, MPS_PIPE_ENV)):
        wanted = "0=%dM" % budget["vram_mib"]
        got = environ.get(MPS_LIMIT_ENV)
        if got != wanted:
            raise RuntimeError("%s is %s, expected %r from the group's budget" % (
                MPS_LIMIT_ENV, "not set" if got is None else repr(got), wanted))
        if not environ.get(MPS_PIPE_ENV):
            raise RuntimeError("%s is not set: the client cannot reach the MPS control daemon" % MPS_PIPE_ENV)
    device = ctypes.c_int()
    with steps.step("cuDeviceGet", device=0, detail="VRAM budget"):
        cuda.call("cuDeviceGet", ctypes.byref(device), 0)
    context = ctypes.c_void_p()
    with steps.step("cuCtxCreate_v2", device=0, detail="VRAM budget"):
        cuda.call("cuCtxCreate_v2", ctypes.byref(context), 0, device.value)
    cleanup = [("cuCtxDestroy_v2", context, "VRAM budget")]
    try:
        within = ctypes.c_uint64(0)
        with steps.step("cuMemAlloc_v2", device=0, detail="within the budget: %d of %d MiB" % (
                budget["within_mib"], budget["vram_mib"])):
            cuda.call("cuMemAlloc_v2", ctypes.byref(within), budget["within_mib"] * MIB)
        cleanup.append(("cuMemFree_v2", within, "within the budget"))
        with steps.step("cuMemFree_v2", device=0, detail="within the budget"):
            cleanup.pop()
            cuda.call("cuMemFree_v2", within.value)
        over = ctypes.c_uint64(0)
        with steps.step("cuMemAlloc_v2", device=0, detail="over the budget: %d MiB must fail with "
                        "CUDA_ERROR_OUT_OF_MEMORY" % budget["over_mib"]) as record:
            code = cuda.fn("cuMemAlloc_v2")(ctypes.byref(over), budget["over_mib"] * MIB)
            if code == 0:
                cleanup.append(("cuMemFree_v2", over, "over the budget"))
                raise RuntimeError("the allocation succeeded: the %d MiB budget is not enforced" % budget["vram_mib"])
            name, description = cuda.error_text(code)
            record["refused_with"] = "%s (%d): %s" % (name, code, description)
            if code != CUDA_ERROR_OUT_OF_MEMORY:
                raise RuntimeError("refused with %s (%d): %s, not CUDA_ERROR_OUT_OF_MEMORY" % (
                    name, code, description))
    except StepFailed:
        _release(steps, cuda, 0, cleanup)
        raise
    failure = _release(steps, cuda, 0, cleanup)
    if failure is not None:
        raise StepFailed(failure)
    budget.update(status=BUDGET_ENFORCED, reason="VRAM budget enforced: %d MiB allocated, %d MiB refused with "
                  "CUDA_ERROR_OUT_OF_MEMORY (budget %d MiB)" % (
                      budget["within_mib"], budget["over_mib"], budget["vram_mib"]))


def run_probe(loader=None, elements=DEFAULT_ELEMENTS, lab=False, require_injected=False, environ=None,
              read_maps=None, read_mountinfo=None, progress=None, budget_mib=None, mps=False):
    """Run every step and return the result document (a JSON-serialisable dict).

    With ``budget_mib``, the result's ``budget`` says whether that VRAM
    budget holds: with ``mps`` (CUDA MPS enforces it) the probe proves it by
    allocating, otherwise it is reported not enforced.

    ``loader(name)`` opens a shared library (ctypes.CDLL by default);
    ``read_maps``/``read_mountinfo`` return the text of /proc/self/maps and
    /proc/self/mountinfo. All are injectable for tests.
    """
    started = time.perf_counter()
    loader = loader or default_loader
    environ = os.environ if environ is None else environ
    read_maps = read_maps or (lambda: _read_text("/proc/self/maps"))
    read_mountinfo = read_mountinfo or (lambda: _read_text("/proc/self/mountinfo"))
    result = new_result(elements)
    budget = new_budget(budget_mib, mps) if budget_mib is not None else None
    result["budget"] = budget
    steps = Steps(progress)
    result["steps"] = steps.records
    try:
        cuda = _run(result, steps, loader, elements, lab or lab_marker_present(environ), require_injected,
                    read_maps, read_mountinfo)
        if budget is not None and cuda is not None and mps:
            try:
                _budget_steps(steps, cuda, budget, environ)
            except StepFailed as failure:
                _fail(result, failure.record)
                reason = "VRAM budget check failed at %s: %s" % (result["failed_step"], result["error"])
                budget.update(status=BUDGET_FAILED, failed_step=result["failed_step"], error=result["error"],
                              reason=reason)
                result["reason"] = budget["reason"]
        elif budget is not None:
            _budget_verdict(result, budget)
    finally:
        result["total_ms"] = round((time.perf_counter() - started) * 1000.0, 3)
    return result


def _run(result, steps, loader, elements, lab, require_injected, read_maps, read_mountinfo):
    if lab:
        # The lab CDI device is a stand-in without a driver: nothing can pass,
        # and nothing is loaded, so an image's own libraries cannot mislead.
        result.update(status="skipped", reason=REASON_LAB, lab=True,
                      error="%s is set: the container was given the lab CDI device, not a GPU" % LAB_MARKER_ENV)
        return None
    if elements < 1:
        raise ValueError("elements must be at least 1")

    nvml_lib = _load(steps, loader, NVML_LIBRARY)
    cuda_lib = _load(steps, loader, CUDA_LIBRARY)
    if nvml_lib is None and cuda_lib is None:
        result.update(status="skipped", reason=REASON_NO_DRIVER,
                      error="; ".join(r["error"] for r in steps.records if r.get("error")))
        return None
    if nvml_lib is None or cuda_lib is None:
        missing = [r for r in steps.records if not r["ok"]][0]
        _fail(result, missing, "%s is missing while the other driver library loaded: %s" % (
            missing["detail"], missing["error"]))
        return None

    try:
        with steps.step("library provenance", detail="/proc/self/maps, /proc/self/mountinfo"):
            maps_text, mount_points = read_maps(), parse_mount_points(read_mountinfo())
            for soname in (NVML_LIBRARY, CUDA_LIBRARY):
                result["libraries"].append(library_provenance(soname, maps_text, mount_points))
            not_injected = [lib for lib in result["libraries"] if not lib["injected"]]
            if require_injected and not_injected:
                raise RuntimeError("; ".join(
                    "%s resolved to %s, which is part of the image, not a library injected by CDI" % (
                        lib["soname"], lib["path"] or "an unknown file") for lib in not_injected))

        _nvml_phase(steps, ProbeNvml(loader=lambda _name: nvml_lib), result)

        cuda = CudaDriver(cuda_lib)
        with steps.step("cuInit"):
            cuda.call("cuInit", 0)
        version = ctypes.c_int()
        with steps.step("cuDriverGetVersion"):
            cuda.call("cuDriverGetVersion", ctypes.byref(version))
        result["cuda_driver_version"] = result["cuda_driver_version"] or cuda_version_string(version.value)
        count = ctypes.c_int()
        with steps.step("cuDeviceGetCount") as record:
            cuda.call("cuDeviceGetCount", ctypes.byref(count))
            if count.value < 1:
                raise RuntimeError("the driver reports no CUDA device")
            record["detail"] = "%d device(s)" % count.value
        inputs = _input_values(elements)
        expected = _expected_values(inputs)
        for ordinal in range(count.value):
            _kernel_on_device(steps, cuda, ordinal, elements, inputs, expected, result)
    except StepFailed as failure:
        _fail(result, failure.record)
        result["kernel_result"]["ok"] = False
        return None

    result["status"] = "passed"
    result["reason"] = "%s on %d device(s)" % (REASON_PASSED, result["kernel_result"]["devices_tested"])
    return cuda


def exit_status(result):
    return {"passed": EXIT_PASSED, "skipped": EXIT_SKIPPED}.get(result.get("status"), EXIT_FAILED)


def probe_source():
    """This file's source text, to send to ``python3 -`` in a container."""
    loader = globals().get("__loader__")
    get_source = getattr(loader, "get_source", None)
    if get_source is not None:
        try:
            text = get_source(__name__)
        except (ImportError, OSError):
            text = None
        if text:
            return text
    with open(__file__, "r") as handle:
        return handle.read()


def _progress_to_stderr(label):
    sys.stderr.write("%s%s\n" % (PROGRESS_PREFIX, label))
    sys.stderr.flush()


def build_parser():
    parser = argparse.ArgumentParser(
        prog="cuda_probe.py",
        description="Prove that a CUDA kernel runs using only libcuda.so.1 and libnvidia-ml.so.1. "
                    "Prints one JSON document; exit status 0 passed, 1 failed, 3 skipped.",
    )
    parser.add_argument("--elements", type=int, default=DEFAULT_ELEMENTS,
                        help="number of float32 elements the kernel processes (default %(default)s)")
    parser.add_argument("--lab", action="store_true",
                        help="treat the device as the lab CDI stand-in (same as %s=1)" % LAB_MARKER_ENV)
    parser.add_argument("--require-injected", action="store_true",
                        help="fail when a driver library comes from the image instead of a bind mount "
                             "(use inside containers)")
    parser.add_argument("--deadline", type=int, default=0,
                        help="kill the probe after this many seconds (0: no deadline)")
    parser.add_argument("--budget-mib", type=int, default=None,
                        help="the container's VRAM budget in MiB: with --mps it is proved by allocating "
                             "within and just over it; without, it is reported not enforced")
    parser.add_argument("--mps", action="store_true",
                        help="CUDA MPS enforces the budget (CUDA_MPS_PINNED_DEVICE_MEM_LIMIT)")
    parser.add_argument("--compact", action="store_true", help="print the JSON on one line")
    parser.add_argument("--quiet", action="store_true", help="do not print progress to stderr")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.elements < 1:
        sys.stderr.write("cuda_probe: --elements must be at least 1\n")
        return 2
    if args.budget_mib is not None and args.budget_mib < 1:
        sys.stderr.write("cuda_probe: --budget-mib must be at least 1\n")
        return 2
    if args.mps and args.budget_mib is None:
        sys.stderr.write("cuda_probe: --mps needs --budget-mib\n")
        return 2
    if args.deadline > 0:
        # Default SIGALRM action terminates the process, even inside a hung driver call.
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(args.deadline)
    result = run_probe(elements=args.elements, lab=args.lab, require_injected=args.require_injected,
                       progress=None if args.quiet else _progress_to_stderr, budget_mib=args.budget_mib,
                       mps=args.mps)
    if args.compact:
        sys.stdout.write(json.dumps(result, sort_keys=True, separators=(",", ":")) + "\n")
    else:
        sys.stdout.write(json.dumps(result, sort_keys=True, indent=2) + "\n")
    sys.stdout.flush()
    return exit_status(result)


if __name__ == "__main__":
    raise SystemExit(main())
